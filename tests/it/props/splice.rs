//! Property tests of the span editor, and of the span scanner against quick-xml's reader.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Span editor.
// ---------------------------------------------------------------------------------------------------------

/// One step of a walk over the input that yields non-overlapping edits.
#[derive(Debug, Clone)]
enum Step {
    Insert(Vec<u8>),
    /// Replace up to that many bytes (0: an insertion).
    Replace(usize, Vec<u8>),
    Delete(usize),
}

fn step() -> impl Strategy<Value = (usize, Step)> {
    let bytes = || vec(any::<u8>(), 0..4);
    (
        0usize..6,
        prop_oneof![
            bytes().prop_map(Step::Insert),
            (0usize..6, bytes()).prop_map(|(n, w)| Step::Replace(n, w)),
            (1usize..6).prop_map(Step::Delete),
        ],
    )
}

/// The edits of a walk: each step skips `gap` bytes (0 makes edits adjacent, or several insertions at one
/// offset, or an insertion right before or after a replacement), then edits from there.
fn walk(len: usize, steps: Vec<(usize, Step)>) -> Vec<Edit> {
    let mut pos = 0;
    let mut out = Vec::new();
    for (gap, step) in steps {
        pos = (pos + gap).min(len);
        match step {
            Step::Insert(w) => out.push(Edit::insert(pos, w)),
            Step::Replace(n, w) => {
                let end = (pos + n).min(len);
                out.push(Edit::replace(pos..end, w));
                pos = end;
            }
            Step::Delete(n) => {
                let end = (pos + n).min(len);
                out.push(Edit::delete(pos..end));
                pos = end;
            }
        }
    }
    out
}

/// An input and a non-overlapping set of edits, in random order.
fn valid_case() -> impl Strategy<Value = (Vec<u8>, Vec<Edit>)> {
    (vec(any::<u8>(), 0..48), vec(step(), 0..10))
        .prop_map(|(input, steps)| {
            let edits = walk(input.len(), steps);
            (input, edits)
        })
        .prop_flat_map(|(input, edits)| (Just(input), Just(edits).prop_shuffle()))
}

/// An input and edits at arbitrary places: overlapping, out of bounds, inverted (start > end) or fine.
fn arbitrary_case() -> impl Strategy<Value = (Vec<u8>, Vec<Edit>)> {
    vec(any::<u8>(), 0..24).prop_flat_map(|input| {
        let n = input.len();
        let edit = prop_oneof![
            9 => (0..=n + 1, 0usize..4, vec(any::<u8>(), 0..3))
                .prop_map(|(start, len, w)| Edit::replace(start..start + len, w)),
            1 => (1..=n + 1, 1usize..3).prop_map(|(end, back)| Edit {
                range: end..end.saturating_sub(back),
                with: b"~".to_vec(),
            }),
        ];
        (Just(input), vec(edit, 0..5))
    })
}

/// Two edits touch a common byte, or an insertion falls strictly inside a replaced range.
fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Every edit lies inside the input, none is inverted, no two overlap.
fn valid(len: usize, edits: &[Edit]) -> bool {
    edits
        .iter()
        .all(|e| e.range.start <= e.range.end && e.range.end <= len)
        && edits
            .iter()
            .enumerate()
            .all(|(i, a)| edits[i + 1..].iter().all(|b| !overlaps(&a.range, &b.range)))
}

/// The expected output of a valid set, by walking the input position by position: at each offset, first the
/// insertions there (in the order given), then the replacement starting there (jumping to its end), else the
/// input byte itself.
fn model(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        for e in edits
            .iter()
            .filter(|e| e.range.is_empty() && e.range.start == p)
        {
            out.extend_from_slice(&e.with);
        }
        if let Some(e) = edits
            .iter()
            .find(|e| !e.range.is_empty() && e.range.start == p)
        {
            out.extend_from_slice(&e.with);
            p = e.range.end;
        } else if p < input.len() {
            out.push(input[p]);
            p += 1;
        } else {
            break;
        }
    }
    out
}

proptest! {
    #![proptest_config(config(1024))]

    /// A valid set gives the input with exactly those edits applied, whatever the order of the set (insertions
    /// at one offset keep their order and precede a replacement starting there).
    #[test]
    fn splice_keeps_every_byte_outside_the_edits((input, edits) in valid_case()) {
        prop_assert!(valid(input.len(), &edits), "generator made an invalid set");
        let out = splice(&input, edits.clone());
        prop_assert!(out.is_ok(), "refused a valid set: {:?}", out);
        prop_assert_eq!(out.unwrap(), model(&input, &edits));
    }

    /// Any set (overlapping, out of bounds, inverted): splice refuses exactly the invalid ones, never panics,
    /// and applies the valid ones as the model does.
    #[test]
    fn splice_accepts_exactly_the_valid_sets((input, edits) in arbitrary_case()) {
        let ok = valid(input.len(), &edits);
        match splice(&input, edits.clone()) {
            Ok(out) => {
                prop_assert!(ok, "accepted an invalid set");
                prop_assert_eq!(out, model(&input, &edits));
            }
            Err(_) => prop_assert!(!ok, "refused a valid set"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Span scanner against quick-xml's reader.
// ---------------------------------------------------------------------------------------------------------

/// Pieces of markup, text and near-misses (unclosed tags and quotes, stray `&`, `<`, `>`, `/`, prefixes,
/// whitespace in end tags, declarations, non-breaking spaces, bytes that are not UTF-8) that, put together,
/// make documents both good and bad.
const XML_PIECES: &[&[u8]] = &[
    b"<a>",
    b"</a>",
    b"<b id=\"1\">",
    b"</b>",
    b"<a/>",
    b"<b />",
    b"<x:a>",
    b"</x:a>",
    b"</a >",
    b"</ a>",
    b"<a / >",
    b"<c x='>'>",
    b"</c>",
    b"<c x=\"'\">",
    b"text",
    b" ",
    b"\n",
    b"\t",
    b"&amp;",
    b"&#10;",
    b"&",
    b";",
    b"<",
    b">",
    b"'",
    b"\"",
    b"/",
    b"=",
    b"?",
    b"<>",
    b"</>",
    b"<?xml version=\"1.0\"?>",
    b"<?pi x?>",
    b"<?>",
    b"<??>",
    b"<?xml",
    b"\xc2\xa0",
    b"\xc3\xa9",
    b"\xff",
    b"<enrol id=\"5\">",
    b"</enrol>",
    b"<!-- c -->",
];

proptest! {
    #![proptest_config(config(4096))]

    /// `walk` (the span scanner) and `walk_quick_xml` (quick-xml's reader) see the same elements at the same
    /// offsets and refuse the same documents with the same error.
    #[test]
    fn span_scanner_agrees_with_quick_xml(pieces in vec(select(XML_PIECES), 0..24)) {
        crate::fuzz_replay::harness::scanners_agree(&pieces.concat());
    }
}

proptest! {
    // About a quarter of the valid sets have no replaced byte and are rejected.
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..config(512) })]

    /// Adding one edit that shares a byte with a replaced range makes the set an error naming two overlapping
    /// edits of the set.
    #[test]
    fn splice_refuses_an_edit_overlapping_another(
        (input, edits) in valid_case(),
        pick in any::<Index>(),
        inside in any::<Index>(),
        lo in any::<Index>(),
        hi in any::<Index>(),
        at in any::<Index>(),
    ) {
        let nonempty: Vec<&Edit> = edits.iter().filter(|e| !e.range.is_empty()).collect();
        prop_assume!(!nonempty.is_empty());
        let a = pick.get(&nonempty).range.clone();
        let x = a.start + inside.index(a.len());
        let b = lo.index(x + 1)..x + 1 + hi.index(input.len() - x);
        let mut all = edits.clone();
        all.insert(at.index(all.len() + 1), Edit::replace(b.clone(), b"!".to_vec()));
        match splice(&input, all.clone()) {
            Ok(_) => prop_assert!(false, "accepted {:?}, which overlaps {:?}", b, a),
            Err(e) => {
                prop_assert!(overlaps(&e.first, &e.second), "reported {:?}", e);
                for r in [&e.first, &e.second] {
                    prop_assert!(all.iter().any(|x| x.range == *r), "reported {:?}, not an edit", r);
                }
            }
        }
    }
}
