//! Reading limits and output folders.

use super::*;

#[test]
fn reading_limits_refuse_with_the_flag_to_raise_them() {
    let dir = tempdir();
    let out = dir.path().join("out.mbz");
    let cb = fixture("coh_basic.mbz");
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-xml-mib"), "{}", stderr(&o));
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-total-gib",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-total-gib"), "{}", stderr(&o));
    assert!(listing(dir.path()).is_empty());
    let o = run(&[
        "convert",
        cb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// inspect, plan and verify honour the same limits (exit 2, the option to raise named, nothing written).
#[test]
fn reading_limits_apply_to_inspect_plan_and_verify() {
    let dir = tempdir();
    let cb = fixture("coh_basic.mbz");
    let zip = fixture("coh_basic.zip.mbz");
    let plan = dir.path().join("plan.csv");
    for (flag, archive) in [("--max-xml-mib", &cb), ("--max-total-gib", &zip)] {
        let a = archive.to_str().unwrap();
        let runs: [Vec<&str>; 4] = [
            vec!["inspect", a],
            vec!["verify", a],
            vec!["verify", a, "--against", a],
            vec![
                "plan",
                a,
                "--format",
                "uploaduser",
                "-o",
                plan.to_str().unwrap(),
                "--until",
                UNTIL,
            ],
        ];
        for mut args in runs {
            args.extend([flag, "0"]);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            let e = stderr(&o);
            assert!(e.contains(flag) && e.contains("coh_basic"), "{args:?}: {e}");
            assert!(!e.contains("panicked"));
        }
        assert!(listing(dir.path()).is_empty());
    }
}

/// An output in a folder that does not exist is refused with a clear message (exit 2), and nothing is created.
#[test]
fn output_into_a_missing_folder_is_refused() {
    let dir = tempdir();
    let missing = dir.path().join("missing").join("deeper");
    let cb = fixture("coh_basic.mbz");
    let out = missing.join("out.mbz");
    let plan = missing.join("plan.csv");
    for args in [
        vec![
            "convert",
            cb.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        vec![
            "renew",
            cb.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
        vec![
            "plan",
            cb.to_str().unwrap(),
            "--format",
            "uploaduser",
            "-o",
            plan.to_str().unwrap(),
            "--until",
            UNTIL,
        ],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("does not exist (create it first)"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(listing(dir.path()).is_empty(), "{args:?} created something");
    }
}
