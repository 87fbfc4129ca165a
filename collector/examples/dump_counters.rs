//! Prints the analyzer's counters and RTT observations for a capture (a debugging aid).
use std::fs::File;

use vtcq_collector::analyzer::{Analyzer, AnalyzerConfig};
use vtcq_collector::capture::CaptureReader;
use vtcq_collector::offline::analyze_capture;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let mut reader = CaptureReader::new(File::open(&path)?)?;
        let mut analyzer = Analyzer::new(AnalyzerConfig {
            record_rtt_observations: true,
            ..AnalyzerConfig::default()
        });
        let summary = analyze_capture(&mut reader, &mut analyzer, |_, _| {})?;
        println!("== {path}: {:?}", summary.end);
        println!("{:#?}", analyzer.counters());
        for o in analyzer.rtt_observations() {
            println!("{o:?}");
        }
    }
    Ok(())
}
