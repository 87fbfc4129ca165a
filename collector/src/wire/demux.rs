//! RFC 7983 / RFC 5761 demultiplexing (helper B is implementing this module).
