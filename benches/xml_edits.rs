//! Micro-benchmarks of the XML work on a 100,000-user `course/enrolments.xml` (issue 7): the span scanner, the
//! model parser, the span splicer and the whole conversion of the three documents (cohort → manual with stamped
//! end dates), so a regression in any of them shows in `cargo bench`. The documents come from the benchmark
//! generator (`examples/genmbz.rs`), in the layout of the Moodle 4.3 fixtures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mbz_enrol::enrol::convert::{self, Docs, Options};
use mbz_enrol::enrol::model;
use mbz_enrol::xml::{self, Edit};

#[allow(dead_code)]
#[path = "../examples/genmbz.rs"]
mod genmbz;

const USERS: usize = 100_000;

fn documents() -> Vec<(String, Vec<u8>)> {
    genmbz::documents(&genmbz::Args {
        users: USERS,
        instances: 3,
        files: 0,
        file_size: 0,
        random: false,
        text_percent: 0,
        zip: false,
        seed: 1,
        output: "unused.mbz".into(),
    })
}

fn doc<'a>(docs: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    docs.iter()
        .find(|(p, _)| p == path)
        .map(|(_, d)| d.as_slice())
        .expect("generated member")
}

fn benches(c: &mut Criterion) {
    let docs = documents();
    let enrolments = doc(&docs, "course/enrolments.xml");
    let course_roles = doc(&docs, "course/roles.xml");
    let mut g = c.benchmark_group("enrolments.xml, 100k users");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(enrolments.len() as u64));
    g.bench_function("walk (span scanner)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            xml::walk(black_box(enrolments), |_| {
                n += 1;
                Ok(())
            })
            .expect("well-formed");
            n
        });
    });
    g.bench_function("parse_enrolments (model)", |b| {
        b.iter(|| model::parse_enrolments(black_box(enrolments)).expect("parses"));
    });
    // One replacement per enrolment: every <timeend> of the generated users (what stamping writes).
    let mut ends = Vec::new();
    let mut from = 0;
    while let Some(i) = find(&enrolments[from..], b"<timeend>0</timeend>") {
        let start = from + i + b"<timeend>".len();
        ends.push(start..start + 1);
        from = start;
    }
    g.bench_function("splice (one edit per enrolment)", |b| {
        b.iter(|| {
            let edits: Vec<Edit> = ends
                .iter()
                .map(|r| Edit::replace(r.clone(), &b"1819749600"[..]))
                .collect();
            xml::splice(black_box(enrolments), edits).expect("no overlap")
        });
    });
    let opts = Options {
        from: vec!["cohort".into()],
        stamp_roles: vec!["student".into()],
        until: 1_819_749_600,
        ..Default::default()
    };
    let all = Docs {
        enrolments: Some(enrolments),
        course_roles: Some(course_roles),
        roles: Some(doc(&docs, "roles.xml")),
        groups: Some(doc(&docs, "groups.xml")),
    };
    g.bench_function("convert (the three documents)", |b| {
        b.iter(|| convert::convert(black_box(&all), &opts).expect("converts"));
    });
    g.finish();
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

criterion_group!(xml_edits, benches);
criterion_main!(xml_edits);
