//! An endpoint's settings (RFC 9113 §6.5.2): the defaults every endpoint starts from, a
//! SETTINGS frame applied in order (the last value of a setting wins, unknown settings are
//! ignored), and the frame a server announces its own with.

use crate::flow::DEFAULT_WINDOW;
use crate::frame::{setting, Setting, DEFAULT_MAX_FRAME_SIZE};
use crate::hpack::DEFAULT_TABLE_SIZE;

/// One endpoint's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE: the largest HPACK table the endpoint's decoder keeps.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS; `None`: no limit.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE: every stream's window at its start.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload the endpoint reads.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE; `None`: no limit announced.
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): extended CONNECT is accepted.
    pub enable_connect_protocol: bool,
}

impl Default for Settings {
    /// The values in force before any SETTINGS frame (§6.5.2).
    fn default() -> Self {
        Settings {
            header_table_size: DEFAULT_TABLE_SIZE as u32,
            enable_push: true,
            max_concurrent_streams: None,
            initial_window_size: DEFAULT_WINDOW,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
            enable_connect_protocol: false,
        }
    }
}

/// What applying a SETTINGS frame changed that the connection must act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// The initial window moved from `.0` to `.1`: every stream's send window moves by the
    /// difference (§6.9.2).
    pub initial_window: Option<(u32, u32)>,
    /// The peer's decoder table size changed: the encoder must follow (RFC 7541 §4.2).
    pub header_table_size: Option<u32>,
}

impl Settings {
    /// Apply a SETTINGS frame's values, in order. The frame reader has checked their bounds.
    pub fn apply(&mut self, settings: &[Setting]) -> Changes {
        let before = *self;
        for one in settings {
            match one.id {
                setting::HEADER_TABLE_SIZE => self.header_table_size = one.value,
                setting::ENABLE_PUSH => self.enable_push = one.value == 1,
                setting::MAX_CONCURRENT_STREAMS => self.max_concurrent_streams = Some(one.value),
                setting::INITIAL_WINDOW_SIZE => self.initial_window_size = one.value,
                setting::MAX_FRAME_SIZE => self.max_frame_size = one.value,
                setting::MAX_HEADER_LIST_SIZE => self.max_header_list_size = Some(one.value),
                setting::ENABLE_CONNECT_PROTOCOL => self.enable_connect_protocol = one.value == 1,
                _ => {}
            }
        }
        Changes {
            initial_window: (before.initial_window_size != self.initial_window_size)
                .then_some((before.initial_window_size, self.initial_window_size)),
            header_table_size: (before.header_table_size != self.header_table_size)
                .then_some(self.header_table_size),
        }
    }

    /// The settings that differ from the defaults, as a SETTINGS frame announces them.
    pub fn announced(&self) -> Vec<Setting> {
        let defaults = Settings::default();
        let mut out = Vec::new();
        let mut add = |id, value: u32, default: u32| {
            if value != default {
                out.push(Setting { id, value });
            }
        };
        add(
            setting::HEADER_TABLE_SIZE,
            self.header_table_size,
            defaults.header_table_size,
        );
        add(
            setting::ENABLE_PUSH,
            u32::from(self.enable_push),
            u32::from(defaults.enable_push),
        );
        if let Some(streams) = self.max_concurrent_streams {
            add(setting::MAX_CONCURRENT_STREAMS, streams, u32::MAX);
        }
        add(
            setting::INITIAL_WINDOW_SIZE,
            self.initial_window_size,
            defaults.initial_window_size,
        );
        add(
            setting::MAX_FRAME_SIZE,
            self.max_frame_size,
            defaults.max_frame_size,
        );
        if let Some(list) = self.max_header_list_size {
            add(setting::MAX_HEADER_LIST_SIZE, list, u32::MAX);
        }
        if self.enable_connect_protocol {
            add(setting::ENABLE_CONNECT_PROTOCOL, 1, 0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9113_6_5_2_values_apply_in_order_the_last_wins_and_unknown_ones_are_ignored() {
        let mut peer = Settings::default();
        let changes = peer.apply(&[
            Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: 1 << 20,
            },
            Setting {
                id: 0x4242,
                value: 9,
            },
            Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: 1 << 16,
            },
            Setting {
                id: setting::HEADER_TABLE_SIZE,
                value: 0,
            },
            Setting {
                id: setting::ENABLE_PUSH,
                value: 0,
            },
            Setting {
                id: setting::MAX_FRAME_SIZE,
                value: 1 << 20,
            },
        ]);
        assert_eq!(
            changes,
            Changes {
                initial_window: Some((65_535, 1 << 16)),
                header_table_size: Some(0)
            }
        );
        assert_eq!(
            (
                peer.initial_window_size,
                peer.header_table_size,
                peer.enable_push,
                peer.max_frame_size
            ),
            (1 << 16, 0, false, 1 << 20)
        );
        // Nothing changed: nothing to act on.
        assert_eq!(
            peer.apply(&[Setting {
                id: setting::INITIAL_WINDOW_SIZE,
                value: 1 << 16
            }]),
            Changes::default()
        );
    }

    #[test]
    fn a_server_announces_what_differs_from_the_defaults() {
        let ours = Settings {
            enable_push: false,
            max_concurrent_streams: Some(200),
            initial_window_size: 1 << 20,
            max_header_list_size: Some(16_384),
            enable_connect_protocol: true,
            ..Settings::default()
        };
        let ids: Vec<(u16, u32)> = ours.announced().iter().map(|s| (s.id, s.value)).collect();
        assert_eq!(
            ids,
            [
                (0x2, 0),
                (0x3, 200),
                (0x4, 1 << 20),
                (0x6, 16_384),
                (0x8, 1)
            ]
        );
        assert!(Settings::default().announced().is_empty());
    }
}
