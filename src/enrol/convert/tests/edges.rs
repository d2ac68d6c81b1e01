//! Unit tests of convert: idempotence over a busy backup, --stamp-roles, malformed input, a converted instance
//! before the manual one.
use super::*;

// ---------------------------------------------------------------------------------------------------------
// 12. Idempotence over a busy backup.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn converting_the_output_again_changes_nothing() {
    let fx = Fx::new(doc(&[
        cohort("1", 1, &[ue(1, 10, 0, 1, 2), ue(2, 11, 1, 1, 2)]).extra(TOOL),
        inst("2", "manual", 1, &[ue(3, 10, 0, 5, 6), ue(4, 12, 0, 5, 6)]).form(Form::Lines),
        guest("3"),
        database("4", 0, &[ue(5, 11, 0, 3, 0), ue(6, 13, 0, 3, 0)]),
        inst("5", "meta", 0, &[ue(7, 14, 0, 0, 0)]).set("customint1", "42"),
    ]))
    .assigned(&[
        ra(1, 5, 10, "enrol_cohort", 1),
        ra(2, 5, 10, "", 0),
        ra(3, 4, 11, "enrol_database", 4),
        ra(4, 5, 14, "enrol_meta", 5),
    ])
    .groups(groups(&[(
        1,
        &[
            member(1, 10, "enrol_cohort", 1),
            member(2, 14, "enrol_meta", 5),
        ],
    )]));
    let o = opts(&["cohort", "database", "meta"], &["student", "teacher"]);
    let c = fx.run(&o);
    assert!(!c.is_noop());
    assert!(c.course_roles.is_some() && c.groups.is_some());
    fx.assert_idempotent(&o, &c);
    // And a third time from the second output, for good measure, with a different until.
    let mut o2 = o.clone();
    o2.until = 1;
    assert!(fx.after(&c).run(&o2).is_noop());
}

// ---------------------------------------------------------------------------------------------------------
// 13. --stamp-roles.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn stamp_roles_several_roles_stamp_and_an_unknown_one_is_refused() {
    let coh = cohort(
        "2",
        0,
        &[
            ue(1, 80, 0, 10, 20), // student
            ue(2, 81, 0, 10, 20), // teacher
            ue(3, 82, 0, 10, 0),  // editingteacher
            ue(4, 83, 0, 10, 0),  // no role
            ue(5, 84, 0, 10, 0),  // teacher through a manual role only
        ],
    );
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), coh])).assigned(&[
        ra(1, 5, 80, "enrol_cohort", 2),
        ra(2, 4, 81, "enrol_cohort", 2),
        ra(3, 3, 82, "enrol_cohort", 2),
        ra(4, 4, 84, "", 0),
    ]);
    let e = fx
        .try_run(&opts(
            &["cohort"],
            &["student", "teacher", "ghost", "studnet"],
        ))
        .unwrap_err();
    let EnrolError::UndefinedRoles {
        member,
        unknown,
        defined,
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(*member, "roles.xml");
    assert_eq!(unknown, &["ghost", "studnet"]);
    assert!(defined.iter().any(|r| r == "student"), "{defined:?}");
    assert!(
        e.to_string()
            .contains("role `ghost`, role `studnet` not defined"),
        "{e}"
    );
    let c = fx.run(&opts(&["cohort"], &["student", "teacher"]));
    let x = out(&c);
    assert_eq!(user(x, 80), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(user(x, 81), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(user(x, 82), vec![row("1", 0, 10, 0)]);
    assert_eq!(user(x, 83), vec![row("1", 0, 10, 0)]);
    assert_eq!(user(x, 84), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(c.report.totals.stamped, 3);
    assert!(c.report.warnings.is_empty(), "{:?}", c.report.warnings);
    assert_eq!(c.report.stamp_roles, ["student", "teacher"]);
    // A standard role the backup does not define: nobody in the course holds it (roles.xml lists only the roles
    // a course uses), a warning and no refusal.
    let c = fx.run(&opts(&["cohort"], &["student", "manager"]));
    assert_eq!(c.report.totals.stamped, 1);
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(c.report.warnings[0].to_string().contains("manager"));
}

#[test]
fn stamp_roles_without_role_definitions_warn_for_each_and_stamp_nobody() {
    // A backup without role definitions (none in roles.xml, or no roles.xml) has nobody holding a role: nothing
    // to check a name against, so a warning, not a refusal.
    for roles in [None, Some(roles_def(&[]))] {
        let fx = Fx {
            roles,
            ..Fx::new(doc(&[
                inst("1", "manual", 0, &[]),
                cohort("2", 0, &[ue(1, 80, 0, 10, 20)]),
            ]))
        };
        let c = fx.run(&opts(&["cohort"], &["student", "teacher"]));
        assert_eq!(user(out(&c), 80), vec![row("1", 0, 10, 20)]);
        assert_eq!(c.report.warnings.len(), 2, "{:?}", c.report.warnings);
    }
}

#[test]
fn stamp_before_start_warns() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 80, 0, UNTIL + 5, 0)]),
    ]))
    .assigned(&[ra(1, 5, 80, "enrol_cohort", 2)]);
    let c = fx.run(&opts(&["cohort"], &["student"]));
    assert_eq!(user(out(&c), 80), vec![row("1", 0, UNTIL + 5, UNTIL)]);
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(c.report.warnings[0].to_string().contains("80"));
}

// ---------------------------------------------------------------------------------------------------------
// 14. Malformed input.
// ---------------------------------------------------------------------------------------------------------

/// The error and all its sources, joined.
fn chain(e: &EnrolError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn good() -> String {
    doc(&[
        inst("1", "manual", 0, &[ue(1, 5, 0, 0, 0)]),
        cohort("2", 0, &[ue(20, 6, 0, 0, 0)]),
    ])
}

#[test]
fn truncated_enrolments_xml_is_an_error_naming_the_member() {
    let full = good();
    let cut = full.find("<timestart>").unwrap() + "<timestart>".len() + 1;
    let fx = Fx::new(full[..cut].to_owned());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(
        matches!(
            e,
            EnrolError::Xml {
                member: ENROLMENTS,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = chain(&e);
    assert!(msg.contains("course/enrolments.xml"), "{msg}");
    assert!(msg.contains("timestart"), "{msg}");
}

#[test]
fn truncated_inside_a_tag_is_an_error() {
    let full = good();
    let cut = full.find("<userid>").unwrap() + 4;
    let e = Fx::new(full[..cut].to_owned())
        .try_run(&opts(&["cohort"], &[]))
        .unwrap_err();
    assert!(chain(&e).contains("course/enrolments.xml"), "{}", chain(&e));
}

#[test]
fn converted_enrolment_without_timestart_is_an_error_naming_it() {
    let bad = good().replacen("<timestart>0</timestart>\n", "", 2);
    // The first occurrence is in the manual instance, the second in the cohort one.
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    let msg = chain(&e);
    assert!(
        matches!(
            e,
            EnrolError::Invalid {
                member: ENROLMENTS,
                ..
            }
        ),
        "{e:?}"
    );
    for part in [
        "course/enrolments.xml",
        "<timestart>",
        "<enrolment id=\"20\">",
        "<enrol id=\"2\">",
    ] {
        assert!(msg.contains(part), "{msg}");
    }
}

#[test]
fn non_integer_userid_is_an_error_naming_it() {
    for bad_value in ["abc", "", "$@NULL@$", "1.5"] {
        let bad = good().replace(
            "<userid>6</userid>",
            &format!("<userid>{bad_value}</userid>"),
        );
        let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
        let msg = chain(&e);
        assert!(msg.contains("course/enrolments.xml"), "{msg}");
        assert!(msg.contains("<userid>"), "{msg}");
        assert!(msg.contains("<enrolment id=\"20\">"), "{msg}");
    }
}

#[test]
fn non_integer_values_in_an_existing_manual_enrolment_to_combine_are_an_error() {
    let bad = good()
        .replace("<userid>6</userid>", "<userid>5</userid>")
        .replacen("<timeend>0</timeend>", "<timeend>never</timeend>", 1);
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    let msg = chain(&e);
    assert!(msg.contains("<timeend>"), "{msg}");
    assert!(msg.contains("<enrol id=\"1\">"), "{msg}");
}

#[test]
fn malformed_roles_and_groups_are_errors_naming_the_member() {
    let fx = Fx::new(good()).roles("<roles><role_assignments>".into(), std_roles());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains(COURSE_ROLES), "{}", chain(&e));

    let fx = Fx::new(good()).roles(
        course_roles(&[]),
        "<roles_definition><role id=\"1\">".into(),
    );
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).starts_with("member `roles.xml`"), "{}", chain(&e));

    let fx = Fx::new(good()).groups("<groups><group id=\"1\"></groups>".into());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains(GROUPS), "{}", chain(&e));
}

#[test]
fn enrol_without_id_is_an_error() {
    let bad = good().replace("<enrol id=\"2\">", "<enrol>");
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains("id"), "{}", chain(&e));
}

// ---------------------------------------------------------------------------------------------------------
// 15. Converted instance before the manual one.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn converted_instance_before_the_manual_one_still_merges_into_the_manual_one() {
    let coh = cohort("1", 0, &[ue(10, 80, 0, 5, 6), ue(11, 81, 0, 1, 0)]).extra(TOOL);
    let manual = inst("2", "manual", 0, &[ue(20, 81, 0, 3, 9)]);
    let second_manual = inst("3", "manual", 0, &[ue(30, 80, 0, 0, 0)]);
    let fx = Fx::new(doc(&[coh.clone(), manual.clone(), second_manual.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(
        text(x),
        doc(&[
            coh.retyped(),
            manual.ues(&[ue(20, 81, 0, 1, 0), ue(10, 80, 0, 5, 6)]),
            second_manual,
        ])
    );
    // Only the first manual instance is the holder; the second one is never touched.
    assert_eq!(user(x, 80), vec![row("2", 0, 5, 6), row("3", 0, 0, 0)]);
    assert_eq!(c.report.target.as_ref().unwrap().instance_id, "2");
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 16. A large course: course/roles.xml's plan runs on a second thread beside the sources' collection.
// ---------------------------------------------------------------------------------------------------------

/// A course large enough for the side-by-side plan: `n` cohort users, each a student through the cohort, every
/// tenth one a student manually too (its cohort assignment a duplicate, removed).
fn large_course(n: i64) -> Fx {
    let ues: Vec<Ue> = (0..n)
        .map(|u| ue(u as u64 + 1, 1000 + u, 0, 5, 0))
        .collect();
    let mut assignments = Vec::new();
    for u in 0..n {
        assignments.push(ra(u as u32 + 1, 5, 1000 + u, "enrol_cohort", 2));
        if u % 10 == 0 {
            assignments.push(ra((n + u) as u32 + 1, 5, 1000 + u, "", 0));
        }
    }
    let fx =
        Fx::new(doc(&[inst("1", "manual", 0, &[]), cohort("2", 0, &ues)])).assigned(&assignments);
    let (ex, x) = (
        fx.enrolments.as_deref().unwrap(),
        fx.course_roles.as_deref().unwrap(),
    );
    assert!(
        read::both_large(ex.as_bytes(), x.as_bytes()),
        "not large enough to run side by side"
    );
    fx
}

#[test]
fn a_large_course_counts_and_stamps_from_the_roles_plan_made_beside_the_sources() {
    let n = 6000;
    let fx = large_course(n);
    let c = fx.run(&opts(&["cohort"], &["student"]));
    let n = n as usize;
    assert_eq!(c.report.role_assignments_removed, n / 10);
    assert_eq!(c.report.role_assignments_rewritten, n - n / 10);
    // Every user holds the stamped role (read from the plan's role holders).
    assert_eq!(c.report.totals.users_converted, n);
    assert_eq!(c.report.totals.stamped, n);
    assert_eq!(user(out(&c), 1000 + 5999), vec![row("1", 0, 5, UNTIL)]);
}

#[test]
fn a_large_course_s_invalid_enrolment_is_the_same_error_when_gathered_beside_the_roles_plan() {
    let fx = large_course(6000);
    let last = fx
        .enrolments
        .as_deref()
        .unwrap()
        .replace("<userid>6999</userid>", "<userid>x</userid>");
    let e = Fx {
        enrolments: Some(last),
        ..fx
    }
    .try_run(&opts(&["cohort"], &["student"]))
    .unwrap_err();
    assert!(
        matches!(
            e,
            EnrolError::Invalid {
                member: ENROLMENTS,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = chain(&e);
    assert!(msg.contains("<enrolment id=\"6000\">"), "{msg}");
}
