//! RTP header view (helper B is implementing this module).
