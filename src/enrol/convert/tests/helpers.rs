//! Unit tests of convert.rs's private helpers (`later_end`, `set`).
use super::*;

// ---------------------------------------------------------------------------------------------------------
// Helpers of convert.rs.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn later_end_prefers_unlimited() {
    assert_eq!(later_end(0, 5), 0);
    assert_eq!(later_end(5, 0), 0);
    assert_eq!(later_end(3, 5), 5);
    assert_eq!(later_end(5, 3), 5);
}

#[test]
fn set_handles_both_element_forms() {
    let x = b"<a><b/><c>1</c></a>";
    let b = Field {
        content: 7..7,
        span: 3..7,
    };
    let c = Field {
        content: 10..11,
        span: 7..15,
    };
    assert_eq!(&x[b.span.clone()], b"<b/>");
    assert_eq!(&x[c.span.clone()], b"<c>1</c>");
    let e = b.set(x, "b", "0").unwrap();
    assert_eq!((e.range, e.with), (3..7, b"<b>0</b>".to_vec()));
    assert!(c.set(x, "c", "1").is_none());
    let e = c.set(x, "c", "2").unwrap();
    assert_eq!((e.range, e.with), (10..11, b"2".to_vec()));
    // Setting an empty-tag element to "" needs no change.
    assert!(b.set(x, "b", "").is_none());
}
