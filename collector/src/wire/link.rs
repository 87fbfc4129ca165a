//! Link layer to UDP (helper A is implementing this module).
