//! Unit tests of convert: holders (existing manual, first converted instance), merging sources, existing manual
//! enrolments, a disabled manual holder.
use super::*;

// ---------------------------------------------------------------------------------------------------------
// 1. cohort-only + existing manual holder.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn cohort_users_are_appended_to_the_existing_manual_instance_and_students_stamped() {
    let m10 = ue(100, 10, 0, 100, 0);
    let c20 = ue(200, 20, 0, 500, 900);
    let c21 = ue(201, 21, 0, 600, 0);
    let c22 = ue(202, 22, 1, 700, 800);
    let manual = inst("1", "manual", 0, &[m10]);
    let coh = cohort("4", 0, &[c20, c21, c22]);
    let before = [manual.clone(), guest("2"), selfenrol("3"), coh.clone()];
    let fx = Fx::new(doc(&before)).assigned(&[
        ra(1, 5, 10, "", 0),
        ra(2, 5, 20, "enrol_cohort", 4),
        ra(3, 3, 21, "enrol_cohort", 4),
        ra(4, 5, 22, "enrol_cohort", 4),
    ]);
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(user(x, 10), vec![row("1", 0, 100, 0)]);
    assert_eq!(user(x, 20), vec![row("1", 0, 500, UNTIL)]);
    assert_eq!(user(x, 21), vec![row("1", 0, 600, 0)], "teacher keeps end");
    assert_eq!(
        user(x, 22),
        vec![row("1", 1, 700, UNTIL)],
        "suspended stays suspended, stamped"
    );

    // The whole document, byte for byte: new enrolments are copies of the cohort ones with new values.
    let expected = doc(&[
        manual.ues(&[m10, c20.with(0, 500, UNTIL), c21, c22.with(1, 700, UNTIL)]),
        guest("2"),
        selfenrol("3"),
        coh.retyped(),
    ]);
    assert_eq!(text(x), expected);
    assert_eq!(
        enrol_text(x, "2"),
        enrol_text(fx.enrolments.as_ref().unwrap().as_bytes(), "2")
    );
    assert_eq!(
        enrol_text(x, "3"),
        enrol_text(fx.enrolments.as_ref().unwrap().as_bytes(), "3")
    );

    let r = &c.report;
    let t = r.target.as_ref().unwrap();
    assert_eq!(
        (t.instance_id.as_str(), t.was.as_str(), t.enabled),
        ("1", "manual", false)
    );
    assert_eq!(r.totals.users_converted, 3);
    assert_eq!(r.totals.stamped, 2);
    assert_eq!(r.totals.suspended, 1);
    assert_eq!(r.totals.merged_with_manual, 0);
    assert_eq!(r.methods.len(), 1);
    assert_eq!(r.methods[0].plugin, "cohort");
    assert_eq!(r.methods[0].instances, vec!["4".to_owned()]);
    assert_eq!(r.methods[0].users_converted, 3);
    assert!(outcome(&c, 20).stamped);
    assert!(!outcome(&c, 21).stamped);
    assert_eq!(outcome(&c, 21).roles, vec!["editingteacher".to_owned()]);
    assert_eq!(outcome(&c, 20).manual, "new");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // course/roles.xml: the three cohort assignments became manual.
    assert_eq!(r.role_assignments_rewritten, 3);
    assert_eq!(
        text(c.course_roles.as_deref().unwrap()),
        course_roles(&[
            ra(1, 5, 10, "", 0),
            ra(2, 5, 20, "", 0),
            ra(3, 3, 21, "", 0),
            ra(4, 5, 22, "", 0),
        ])
    );
    assert!(c.groups.is_none());
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 2. No manual instance: the first converted one holds.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn without_manual_the_first_converted_instance_holds_in_place_and_others_are_emptied() {
    let c20 = ue(200, 20, 0, 100, 0);
    let c21 = ue(201, 21, 0, 300, 500);
    let d21 = ue(400, 21, 0, 200, 400);
    let d22 = ue(401, 22, 0, 50, 60);
    let k23 = ue(500, 23, 1, 70, 80);
    let c2 = cohort("2", 0, &[c20, c21]);
    let d4 = database("4", 0, &[d21, d22]);
    let c5 = cohort("5", 0, &[k23]).set("customint1", "8");
    let fx = Fx::new(doc(&[
        guest("1"),
        c2.clone(),
        selfenrol("3"),
        d4.clone(),
        c5.clone(),
    ]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(
        instances(x),
        vec![
            summary("1", "guest", 1, &[]),
            summary("2", "manual", 0, &[20, 21, 22, 23]),
            summary("3", "self", 1, &[]),
            summary("4", "manual", 0, &[]),
            summary("5", "manual", 0, &[]),
        ]
    );
    assert_eq!(user(x, 20), vec![row("2", 0, 100, 0)]);
    assert_eq!(user(x, 21), vec![row("2", 0, 200, 500)]);
    assert_eq!(user(x, 22), vec![row("2", 0, 50, 60)]);
    assert_eq!(user(x, 23), vec![row("2", 1, 70, 80)]);

    let expected = doc(&[
        guest("1"),
        c2.retyped().ues(&[c20, c21.with(0, 200, 500), d22, k23]),
        selfenrol("3"),
        d4.retyped(),
        c5.retyped(),
    ]);
    assert_eq!(text(x), expected);
    // The in-place enrolment of user 20 needed no change at all.
    assert_eq!(enrolment_text(x, "200"), c20.render().trim());

    let t = c.report.target.as_ref().unwrap();
    assert_eq!(
        (t.instance_id.as_str(), t.was.as_str(), t.enabled),
        ("2", "cohort", false)
    );
    assert_eq!(c.report.methods.len(), 2);
    assert_eq!(c.report.methods[0].plugin, "cohort");
    assert_eq!(
        c.report.methods[0].instances,
        vec!["2".to_owned(), "5".to_owned()]
    );
    assert_eq!(c.report.methods[1].plugin, "database");
    assert_eq!(
        outcome(&c, 21).methods,
        vec!["cohort".to_owned(), "database".to_owned()]
    );
    assert_eq!(c.report.totals.users_converted, 4);
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 3. Merging several sources of one user.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn sources_of_one_user_merge_into_one_enrolment() {
    let c2 = cohort(
        "2",
        0,
        &[
            ue(230, 30, 0, 200, 1000),
            ue(231, 31, 0, 300, 0),
            ue(232, 32, 1, 50, 9000),
            ue(234, 34, 1, 100, 300),
        ],
    );
    let d3 = database(
        "3",
        0,
        &[
            ue(330, 30, 0, 100, 2000),
            ue(331, 31, 0, 100, 5000),
            ue(332, 32, 0, 400, 600),
            ue(333, 33, 0, 500, 700),
            ue(334, 34, 1, 50, 200),
            ue(335, 35, 1, 20, 900),
        ],
    );
    // Disabled instance: its active enrolments are not effectively active.
    let c4 = cohort("4", 1, &[ue(433, 33, 0, 10, 0), ue(435, 35, 0, 80, 0)]);
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), c2, d3, c4]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    // Both active: earliest start, latest end.
    assert_eq!(user(x, 30), vec![row("1", 0, 100, 2000)]);
    // 0 (unlimited) wins over any end.
    assert_eq!(user(x, 31), vec![row("1", 0, 100, 0)]);
    // Suspended source ignored for times when another is active.
    assert_eq!(user(x, 32), vec![row("1", 0, 400, 600)]);
    // Active in a disabled instance does not count.
    assert_eq!(user(x, 33), vec![row("1", 0, 500, 700)]);
    // All suspended: times over all sources.
    assert_eq!(user(x, 34), vec![row("1", 1, 50, 300)]);
    // Only "active in a disabled instance" + suspended: suspended, times over all, 0 wins.
    assert_eq!(user(x, 35), vec![row("1", 1, 20, 0)]);

    // One enrolment per user, in order of first appearance, the copy of the first source.
    assert_eq!(
        instances(x),
        vec![
            summary("1", "manual", 0, &[30, 31, 32, 34, 33, 35]),
            summary("2", "manual", 0, &[]),
            summary("3", "manual", 0, &[]),
            summary("4", "manual", 0, &[]),
        ]
    );
    let m = model::parse_enrolments(x).unwrap();
    let ids: Vec<_> = m[0].enrolments.iter().map(|e| e.id(x).unwrap()).collect();
    assert_eq!(ids, ["230", "231", "232", "234", "333", "335"]);
    assert_eq!(c.report.totals.users_converted, 6);
    assert_eq!(c.report.totals.suspended, 2);
    let cm = &c.report.methods;
    assert_eq!(
        (cm[0].plugin.as_str(), cm[0].users_converted),
        ("cohort", 6)
    );
    assert_eq!(
        (cm[1].plugin.as_str(), cm[1].users_converted),
        ("database", 6)
    );
    fx.assert_idempotent(&o, &c);
}

#[test]
fn duplicate_enrolments_of_one_user_in_one_instance_merge() {
    let c2 = cohort("2", 0, &[ue(1, 40, 1, 10, 20), ue(2, 40, 0, 30, 40)]);
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), c2]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(user(out(&c), 40), vec![row("1", 0, 30, 40)]);
}

// ---------------------------------------------------------------------------------------------------------
// 4. / 5. Existing manual enrolments.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn existing_manual_enrolment_is_kept_byte_identical_when_the_converted_result_is_suspended() {
    let m40 = ue(140, 40, 0, 100, 200);
    let m41 = ue(141, 41, 1, 100, 200);
    let manual = inst("1", "manual", 0, &[m40, m41]);
    let coh = cohort("2", 0, &[ue(240, 40, 1, 50, 0), ue(241, 41, 1, 10, 0)]);
    let fx = Fx::new(doc(&[manual.clone(), coh.clone()]))
        .assigned(&[ra(1, 5, 40, "enrol_cohort", 2), ra(2, 5, 41, "", 0)]);
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);
    let before = fx.enrolments.as_ref().unwrap().as_bytes();

    assert_eq!(
        user(x, 40),
        vec![row("1", 0, 100, 200)],
        "not stamped, not suspended"
    );
    assert_eq!(user(x, 41), vec![row("1", 1, 100, 200)]);
    assert_eq!(enrolment_text(x, "140"), enrolment_text(before, "140"));
    assert_eq!(enrolment_text(x, "141"), enrolment_text(before, "141"));
    assert_eq!(
        enrol_text(x, "1"),
        enrol_text(before, "1"),
        "holder untouched"
    );
    assert_eq!(text(x), doc(&[manual, coh.retyped()]));
    for u in [40, 41] {
        assert_eq!(outcome(&c, u).manual, "kept");
        assert!(!outcome(&c, u).stamped);
    }
    assert_eq!(c.report.totals.merged_with_manual, 2);
    assert_eq!(c.report.totals.stamped, 0);
    fx.assert_idempotent(&o, &c);
}

#[test]
fn existing_manual_enrolment_is_combined_with_an_active_conversion_then_stamped() {
    let m50 = ue(150, 50, 0, 300, 1000);
    let m51 = ue(151, 51, 0, 100, 500);
    let m52 = ue(152, 52, 1, 100, 500);
    let m53 = ue(153, 53, 0, 100, 0);
    let m54 = ue(154, 54, 0, 10, 20); // no converted enrolment: never touched
    let m55 = ue(155, 55, 0, 100, 2000);
    let manual = inst("1", "manual", 0, &[m50, m51, m52, m53, m54, m55]);
    let coh = cohort(
        "2",
        0,
        &[
            ue(250, 50, 0, 200, 800),
            ue(251, 51, 0, 200, 0),
            ue(252, 52, 0, 400, 600),
            ue(253, 53, 0, 50, 70),
            ue(255, 55, 0, 50, 3000),
        ],
    );
    let fx = Fx::new(doc(&[manual.clone(), coh.clone()])).assigned(&[
        ra(1, 5, 53, "", 0),
        ra(2, 5, 54, "", 0),
        ra(3, 3, 55, "enrol_cohort", 2),
    ]);
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(user(x, 50), vec![row("1", 0, 200, 1000)]);
    assert_eq!(user(x, 51), vec![row("1", 0, 100, 0)]);
    assert_eq!(
        user(x, 52),
        vec![row("1", 0, 400, 600)],
        "suspended manual + active -> active, with the active source's dates only (the suspended one widens nothing)"
    );
    assert_eq!(
        user(x, 53),
        vec![row("1", 0, 50, UNTIL)],
        "combined, then stamped"
    );
    assert_eq!(
        user(x, 54),
        vec![row("1", 0, 10, 20)],
        "student without conversion untouched"
    );
    assert_eq!(
        user(x, 55),
        vec![row("1", 0, 101, 3000)],
        "teacher not stamped; the start shaped one second after the live start (100) so that a merge applies the later end"
    );
    assert_eq!(
        text(x),
        doc(&[
            manual.ues(&[
                m50.with(0, 200, 1000),
                m51.with(0, 100, 0),
                m52.with(0, 400, 600),
                m53.with(0, 50, UNTIL),
                m54,
                m55.with(0, 101, 3000),
            ]),
            coh.retyped(),
        ])
    );
    for u in [50, 51, 52, 53, 55] {
        assert_eq!(outcome(&c, u).manual, "combined");
    }
    assert!(outcome(&c, 53).stamped);
    assert!(c.report.users.iter().all(|u| u.userid != 54));
    assert_eq!(c.report.totals.merged_with_manual, 5);
    assert_eq!(c.report.methods[0].merged_with_manual, 5);
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 6. Disabled manual holder.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn disabled_manual_holder_is_enabled_and_its_active_untouched_enrolments_suspended() {
    let m60 = ue(160, 60, 0, 1, 0);
    let m61 = ue(161, 61, 1, 1, 0);
    let m62 = ue(162, 62, 0, 100, 200);
    let m63 = ue(163, 63, 0, 100, 200);
    let manual = inst("1", "manual", 1, &[m60, m61, m62, m63]);
    let coh = cohort(
        "2",
        0,
        &[
            ue(262, 62, 0, 50, 300),
            ue(263, 63, 1, 10, 0),
            ue(264, 64, 0, 5, 0),
        ],
    );
    let fx = Fx::new(doc(&[guest("0"), manual.clone(), coh.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(
        user(x, 60),
        vec![row("1", 1, 1, 0)],
        "had no access: suspended"
    );
    assert_eq!(user(x, 61), vec![row("1", 1, 1, 0)]);
    assert_eq!(
        user(x, 62),
        vec![row("1", 0, 101, 300)],
        "combined: active, the start shaped one second after the live start (100) for the merge"
    );
    assert_eq!(
        user(x, 63),
        vec![row("1", 1, 100, 200)],
        "kept, but suspended"
    );
    assert_eq!(user(x, 64), vec![row("1", 0, 5, 0)]);
    assert_eq!(
        text(x),
        doc(&[
            guest("0"),
            manual.set("status", "0").ues(&[
                m60.with(1, 1, 0),
                m61,
                m62.with(0, 101, 300),
                m63.with(1, 100, 200),
                ue(264, 64, 0, 5, 0),
            ]),
            coh.retyped(),
        ])
    );
    let t = c.report.target.as_ref().unwrap();
    assert!(t.enabled);
    assert_eq!(c.report.manual_enrolments_suspended, 2);
    assert_eq!(outcome(&c, 63).archive.status, 1);
    assert_eq!(outcome(&c, 63).outcomes.new.status, 1);
    // Merged into the live course, where the enrolment is active, nothing suspends it (Moodle's rule).
    assert_eq!(
        outcome(&c, 63).status,
        0,
        "the live outcome is promised by default"
    );
    assert_eq!(outcome(&c, 63).cannot, [crate::enrol::Limit::StaysActive]);
    assert_eq!(outcome(&c, 63).manual, "kept");
    fx.assert_idempotent(&o, &c);
}

#[test]
fn disabled_converted_holder_is_enabled_and_its_enrolments_suspended() {
    // No manual instance; the holder is a disabled cohort instance.
    let c1 = cohort("1", 1, &[ue(10, 90, 0, 5, 0), ue(11, 91, 0, 5, 0)]);
    let d2 = database("2", 0, &[ue(20, 91, 0, 7, 9)]);
    let fx = Fx::new(doc(&[c1.clone(), d2.clone()]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(user(x, 90), vec![row("1", 1, 5, 0)]);
    assert_eq!(
        user(x, 91),
        vec![row("1", 0, 7, 9)],
        "active through the enabled database"
    );
    assert_eq!(
        text(x),
        doc(&[
            c1.retyped()
                .ues(&[ue(10, 90, 1, 5, 0), ue(11, 91, 0, 7, 9)]),
            d2.retyped(),
        ])
    );
    assert!(c.report.target.as_ref().unwrap().enabled);
    fx.assert_idempotent(&o, &c);
}
