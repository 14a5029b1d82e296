fn main() {
    std::process::exit(roost_core::cli::main());
}
