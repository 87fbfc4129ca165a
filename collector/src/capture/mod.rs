//! pcap / pcapng reading and writing (helper A is implementing this module).
