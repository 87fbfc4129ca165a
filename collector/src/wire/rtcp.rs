//! RTCP compound packets (helper B is implementing this module).
