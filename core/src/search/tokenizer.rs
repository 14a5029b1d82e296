//! The tantivy tokenizer that indexes text as `terms::TokenIter` cuts it. Whether CJK
//! characters are indexed is a per-account choice, so it travels with the text: the first
//! byte of every indexed value is `1` (CJK indexing) or `0`.

use super::terms::TokenIter;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

pub const NAME: &str = "roost";

/// The value to index for `folded` text.
pub fn value(folded: &str, cjk: bool) -> String {
    let mut v = String::with_capacity(folded.len() + 1);
    v.push(if cjk { '1' } else { '0' });
    v.push_str(folded);
    v
}

#[derive(Clone, Default)]
pub struct RoostTokenizer {
    token: Token,
}

pub struct RoostTokenStream<'a> {
    iter: TokenIter<'a>,
    token: &'a mut Token,
}

impl Tokenizer for RoostTokenizer {
    type TokenStream<'a> = RoostTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> RoostTokenStream<'a> {
        let (cjk, folded) = match text.as_bytes().first() {
            Some(b'1') => (true, &text[1..]),
            Some(b'0') => (false, &text[1..]),
            _ => (false, text),
        };
        self.token.reset();
        RoostTokenStream {
            iter: TokenIter::new(folded, cjk),
            token: &mut self.token,
        }
    }
}

impl TokenStream for RoostTokenStream<'_> {
    fn advance(&mut self) -> bool {
        match self.iter.next() {
            Some((position, text)) => {
                self.token.position = position as usize;
                self.token.text.clear();
                self.token.text.push_str(text);
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::terms::tokens;

    #[test]
    fn streams_what_the_iterator_cuts() {
        for cjk in [true, false] {
            let text = "hello, wörld 42 中文x  y";
            let mut t = RoostTokenizer::default();
            let v = value(text, cjk);
            let mut stream = t.token_stream(&v);
            let mut got = Vec::new();
            while stream.advance() {
                let tok = stream.token();
                got.push((tok.position as u32, tok.text.clone()));
            }
            let want: Vec<(u32, String)> = tokens(text, cjk)
                .0
                .into_iter()
                .map(|t| (t.position, t.text))
                .collect();
            assert_eq!(got, want);
        }
    }
}
