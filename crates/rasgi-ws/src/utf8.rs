//! UTF-8 validated as it arrives: a text message fails on the fragment that breaks it, not only
//! at its end, and a character split across fragments is fine.

/// An incremental UTF-8 check: holds at most the three bytes of a character begun and not yet
/// ended.
#[derive(Debug, Default, Clone)]
pub struct Utf8Check {
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Check {
    /// Check the next bytes; `false` as soon as they cannot be UTF-8, whatever follows.
    pub fn feed(&mut self, mut bytes: &[u8]) -> bool {
        // First end the character the last piece began.
        while self.pending_len > 0 {
            let Some((&next, rest)) = bytes.split_first() else {
                return true;
            };
            self.pending[self.pending_len] = next;
            self.pending_len += 1;
            bytes = rest;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => return false,
                Err(_) => {}
            }
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => {
                let tail = &bytes[e.valid_up_to()..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                true
            }
        }
    }

    /// The message ended: `false` if it ended inside a character.
    pub fn finish(&mut self) -> bool {
        std::mem::take(&mut self.pending_len) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_character_split_across_pieces_is_accepted() {
        let text = "κόσμε€😀".as_bytes();
        for cut in 0..text.len() {
            let mut check = Utf8Check::default();
            assert!(check.feed(&text[..cut]) && check.feed(&text[cut..]) && check.finish());
        }
    }

    #[test]
    fn an_invalid_byte_fails_at_once() {
        let mut check = Utf8Check::default();
        assert!(check.feed(b"hello"));
        assert!(!check.feed(&[
            0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80
        ]));
        // A surrogate, a lead byte that can never be valid, an overlong form.
        for bad in [&[0xED, 0xA0][..], &[0xFF], &[0xC0, 0x80], &[0xF4, 0x90]] {
            assert!(!Utf8Check::default().feed(bad), "{bad:02x?}");
        }
    }

    #[test]
    fn a_message_ending_inside_a_character_fails_at_its_end() {
        let mut check = Utf8Check::default();
        assert!(check.feed(&[0xF0, 0x9F]));
        assert!(!check.finish());
    }

    proptest! {
        #[test]
        fn pieces_agree_with_the_whole(bytes in proptest::collection::vec(any::<u8>(), 0..64), cuts in proptest::collection::vec(0usize..64, 0..4)) {
            let whole = std::str::from_utf8(&bytes).is_ok();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut check = Utf8Check::default();
            let mut start = 0;
            let mut ok = true;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                ok &= check.feed(&bytes[start..cut]);
                start = cut;
                if !ok { break; }
            }
            let ok = ok && check.finish();
            prop_assert_eq!(ok, whole);
        }
    }
}
