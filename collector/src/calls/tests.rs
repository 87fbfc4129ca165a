use super::*;

#[test]
fn end_reasons_are_listed_once_in_index_order() {
    for (i, reason) in EndReason::ALL.into_iter().enumerate() {
        assert_eq!(reason.index(), i, "{reason:?}");
    }
    let names: Vec<&str> = EndReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(names, ["api", "bye", "idle", "max_duration", "shutdown"]);
}
