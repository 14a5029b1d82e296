//! A forest of rooted trees that answers "which tree root is above this node" while links are
//! added and cut: a link-cut tree (Sleator and Tarjan), every operation O(log n) amortised,
//! with no recursion. THREAD=REFERENCES asks this once per reference to refuse links that
//! would make a loop (RFC 5256 step 1); walking parent pointers instead costs the depth of the
//! thread each time, which a sender of crafted References can make as large as they like.

const NIL: u32 = u32::MAX;

pub struct Forest {
    /// Children in the splay tree of each node's preferred path: [left (above), right (below)].
    child: Vec<[u32; 2]>,
    /// Splay parent, or path-parent pointer when the node is the root of its splay tree.
    parent: Vec<u32>,
}

impl Forest {
    pub fn new() -> Forest {
        Forest {
            child: Vec::new(),
            parent: Vec::new(),
        }
    }

    /// Adds a node of its own; returns its index.
    pub fn add(&mut self) -> usize {
        self.child.push([NIL, NIL]);
        self.parent.push(NIL);
        self.child.len() - 1
    }

    fn is_splay_root(&self, x: u32) -> bool {
        let p = self.parent[x as usize];
        p == NIL || !self.child[p as usize].contains(&x)
    }

    fn rotate(&mut self, x: u32) {
        let p = self.parent[x as usize];
        let g = self.parent[p as usize];
        let side = usize::from(self.child[p as usize][1] == x);
        let moved = self.child[x as usize][1 - side];
        if !self.is_splay_root(p) {
            let gs = usize::from(self.child[g as usize][1] == p);
            self.child[g as usize][gs] = x;
        }
        self.parent[x as usize] = g;
        self.child[x as usize][1 - side] = p;
        self.parent[p as usize] = x;
        self.child[p as usize][side] = moved;
        if moved != NIL {
            self.parent[moved as usize] = p;
        }
    }

    fn splay(&mut self, x: u32) {
        while !self.is_splay_root(x) {
            let p = self.parent[x as usize];
            if !self.is_splay_root(p) {
                let g = self.parent[p as usize];
                let zigzig = (self.child[g as usize][0] == p) == (self.child[p as usize][0] == x);
                self.rotate(if zigzig { p } else { x });
            }
            self.rotate(x);
        }
    }

    /// Makes the path from the root to `x` preferred; `x` ends at the top of its splay tree.
    fn access(&mut self, x: u32) {
        let mut last = NIL;
        let mut y = x;
        while y != NIL {
            self.splay(y);
            self.child[y as usize][1] = last;
            last = y;
            y = self.parent[y as usize];
        }
        self.splay(x);
    }

    /// The root of the tree holding `x`.
    pub fn root(&mut self, x: usize) -> usize {
        let x = x as u32;
        self.access(x);
        let mut r = x;
        while self.child[r as usize][0] != NIL {
            r = self.child[r as usize][0];
        }
        self.splay(r);
        r as usize
    }

    /// Hangs the tree rooted at `child` under `parent`. The caller makes sure `child` is a
    /// root and not above `parent`.
    pub fn link(&mut self, child: usize, parent: usize) {
        let c = child as u32;
        self.access(c);
        self.parent[c as usize] = parent as u32;
    }

    /// Cuts `x` from its parent, making it the root of its own tree.
    pub fn cut(&mut self, x: usize) {
        let x = x as u32;
        self.access(x);
        let above = self.child[x as usize][0];
        if above != NIL {
            self.parent[above as usize] = NIL;
            self.child[x as usize][0] = NIL;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same operations on plain parent pointers, walked to the root.
    fn naive_root(parent: &[Option<usize>], mut x: usize) -> usize {
        while let Some(p) = parent[x] {
            x = p;
        }
        x
    }

    #[test]
    fn agrees_with_parent_pointers_under_random_links_and_cuts() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let n = 300;
        let mut f = Forest::new();
        let mut parent: Vec<Option<usize>> = vec![None; n];
        for _ in 0..n {
            f.add();
        }
        for _ in 0..20_000 {
            let (a, b) = (rand(n), rand(n));
            match rand(3) {
                0 | 1 => {
                    if parent[a].is_none() && naive_root(&parent, b) != a {
                        parent[a] = Some(b);
                        f.link(a, b);
                    }
                }
                _ => {
                    parent[a] = None;
                    f.cut(a);
                }
            }
            let x = rand(n);
            assert_eq!(f.root(x), naive_root(&parent, x));
        }
    }

    #[test]
    fn a_long_chain_has_its_root_found() {
        let mut f = Forest::new();
        let n = 200_000;
        for i in 0..n {
            f.add();
            if i > 0 {
                f.link(i, i - 1);
            }
        }
        assert_eq!(f.root(n - 1), 0);
        f.cut(n / 2);
        assert_eq!(f.root(n - 1), n / 2);
        assert_eq!(f.root(n / 2 - 1), 0);
    }
}
