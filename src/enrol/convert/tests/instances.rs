//! Unit tests of convert: clearing retyped instances, holder container forms, course/roles.xml and groups.xml,
//! nothing to convert.
use super::*;

// ---------------------------------------------------------------------------------------------------------
// 7. Clearing retyped instances.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn retyped_instances_lose_every_plugin_setting_and_plugin_children() {
    let lti = inst("3", "lti", 1, &[ue(30, 20, 0, 0, 0)])
        .raw("name", "<name/>")
        .set("password", "")
        .set("enrolperiod", "3600")
        .set("enrolstartdate", "1600000000")
        .set("enrolenddate", "1700000000")
        .set("expirynotify", "1")
        .set("expirythreshold", "0")
        .set("notifyall", "1")
        .set("cost", "10")
        .set("currency", "EUR")
        .set("customint1", "7")
        .raw("customint2", "<customint2/>")
        .set("customint8", "1")
        .set("customchar1", "abc")
        .set("customdec2", "1.5")
        .set("customtext1", "&lt;p&gt;welcome&lt;/p&gt;")
        .set("customtext4", "x")
        .extra(TOOL);
    // An old backup: no customint5..8, customchar*, customdec*, customtext2..4, no enrolstartdate.
    let old_fields: Vec<String> = numbered("customint", 5..=8)
        .chain(numbered("customchar", 1..=3))
        .chain(numbered("customdec", 1..=2))
        .chain(numbered("customtext", 2..=4))
        .chain(["enrolstartdate".to_owned()])
        .collect();
    let old_fields: Vec<&str> = old_fields.iter().map(String::as_str).collect();
    let old = database("4", 0, &[ue(40, 21, 0, 0, 0)])
        .without(&old_fields)
        .set("customint1", "1")
        .set("customtext1", "t");
    let manual = inst("1", "manual", 0, &[]);
    let fx = Fx::new(doc(&[manual.clone(), guest("2"), lti.clone(), old.clone()]));
    let o = opts(&["lti", "database"], &[]);
    let c = fx.run(&o);
    let x = text(out(&c));

    let expected_lti = lti.retyped();
    let expected_old = old.retyped();
    // Spell out what retyped() must have produced, so the expectation does not rest on the helper alone.
    assert!(
        expected_lti
            .fields
            .contains(&("name".into(), "<name>$@NULL@$</name>".into()))
    );
    assert!(expected_lti.fields.contains(&(
        "customint2".into(),
        "<customint2>$@NULL@$</customint2>".into()
    )));
    assert!(
        expected_lti
            .fields
            .contains(&("cost".into(), "<cost>10</cost>".into())),
        "cost kept"
    );
    assert!(expected_lti.fields.contains(&(
        "expirythreshold".into(),
        "<expirythreshold>86400</expirythreshold>".into()
    )));
    assert!(!expected_old.has("customint5") && !expected_old.has("enrolstartdate"));
    assert_eq!(
        x,
        doc(&[
            // The lti instance was disabled: its enrolment is not effectively active.
            manual.ues(&[ue(30, 20, 1, 0, 0), ue(40, 21, 0, 0, 0)]),
            guest("2"),
            expected_lti,
            expected_old,
        ])
    );
    assert!(!x.contains("<tool"), "plugin child removed");
    assert!(!x.contains("secret"));
    let old_out = enrol_text(x.as_bytes(), "4");
    for f in old_fields {
        assert!(
            !old_out.contains(&format!("<{f}")),
            "missing <{f}> must not be added"
        );
    }
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_instance_is_cleared_too_when_it_is_retyped() {
    let c1 = cohort("1", 0, &[ue(10, 5, 0, 0, 0)]).extra(TOOL);
    let fx = Fx::new(doc(std::slice::from_ref(&c1)));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(
        text(out(&c)),
        doc(&[c1.retyped().ues(&[ue(10, 5, 0, 0, 0)])])
    );
}

// ---------------------------------------------------------------------------------------------------------
// 8. Holder container forms.
// ---------------------------------------------------------------------------------------------------------

/// Converts a cohort of two users (70 active, 71 suspended) beside a manual instance written in `form` with no
/// enrolments and a guest instance: both users land in the manual one with their own values.
fn into_empty_holder(form: Form) -> (Inst, Inst, Fx, Options, Conversion) {
    let manual = inst("1", "manual", 0, &[]).form(form);
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2), ue(21, 71, 1, 3, 4)]);
    let fx = Fx::new(doc(&[manual.clone(), guest("3"), coh.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    assert_eq!(user(out(&c), 70), vec![row("1", 0, 1, 2)]);
    assert_eq!(user(out(&c), 71), vec![row("1", 1, 3, 4)]);
    (manual, coh, fx, o, c)
}

#[test]
fn holder_with_empty_tag_user_enrolments_gets_a_container() {
    let (manual, coh, fx, o, c) = into_empty_holder(Form::EmptyTag);
    let x = out(&c);
    assert_eq!(
        text(x),
        doc(&[
            manual.form(Form::Lines).ues(&coh.ues),
            guest("3"),
            coh.retyped(),
        ])
    );
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_without_user_enrolments_gets_a_well_formed_container() {
    let (_, coh, fx, o, c) = into_empty_holder(Form::Missing);
    let x = out(&c);
    wellformed(x);
    let m = model::parse_enrolments(x).unwrap();
    assert!(m[0].user_enrolments.is_some());
    // The holder's fields and the other instances are untouched.
    let before = fx.enrolments.as_ref().unwrap().as_bytes();
    let hb = enrol_text(before, "1");
    let ha = enrol_text(x, "1");
    let fields_end = hb.rfind("</timemodified>").unwrap() + "</timemodified>".len();
    assert_eq!(ha[..fields_end], hb[..fields_end]);
    assert_eq!(enrol_text(x, "3"), enrol_text(before, "3"));
    assert_eq!(enrol_text(x, "2"), coh.retyped().render().trim());
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_with_one_line_user_enrolments_container() {
    let manual = inst("1", "manual", 0, &[])
        .form(Form::Missing)
        .extra("      <user_enrolments></user_enrolments>\n");
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2)]);
    let fx = Fx::new(doc(&[manual, coh]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(user(out(&c), 70), vec![row("1", 0, 1, 2)]);
}

#[test]
fn minified_document_without_newlines() {
    let manual = inst("1", "manual", 0, &[ue(10, 69, 0, 0, 0)]);
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2), ue(21, 69, 0, 0, 5)]).extra(TOOL);
    let flat: String = doc(&[manual, coh])
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("");
    let fx = Fx::new(flat);
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(user(x, 69), vec![row("1", 0, 0, 0)]);
    assert_eq!(user(x, 70), vec![row("1", 0, 1, 2)]);
    assert!(!text(x).contains('\n'));
    assert!(!text(x).contains("<tool"));
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 9. / 10. course/roles.xml and groups.xml.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn role_assignments_of_converted_plugins_become_manual_and_duplicates_go() {
    let assignments = vec![
        ra(1, 5, 70, "", 0),                                     // manual student
        ra(2, 5, 70, "enrol_cohort", 2),                         // duplicate of 1 -> removed
        ra(3, 5, 71, "enrol_cohort", 2),                         // rewritten
        ra(4, 3, 71, "enrol_cohort", 2),                         // other role: rewritten
        ra(5, 5, 72, "enrol_lti", 9),                            // not converted
        ra(6, 5, 73, "mod_foo", 3),                              // not an enrol component
        ra(7, 5, 74, "enrol_database", 3),                       // database not converted here
        ra(8, 5, 75, "enrol_cohort", 2),                         // rewritten
        ra(9, 5, 75, "enrol_cohort", 4), // same role and user from another cohort: removed
        ra_raw(10, 5, 76, "<component/>", "<itemid>0</itemid>"), // manual, empty-tag form
        ra(11, 5, 76, "enrol_cohort", 4), // duplicate of 10 -> removed
        ra(12, 5, 77, "enrol_cohort", 2), // duplicate of the later manual 13 -> removed
        ra(13, 5, 77, "", 0),
        ra_raw(
            14,
            5,
            78,
            "<component>enrol_cohort</component>",
            "<itemid/>",
        ), // empty-tag itemid
    ];
    let enrol = doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[]),
        cohort("4", 0, &[]),
        database("3", 0, &[]),
    ]);
    let fx = Fx::new(enrol).assigned(&assignments);
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let got = text(c.course_roles.as_deref().unwrap());
    let expected = course_roles(&[
        ra(1, 5, 70, "", 0),
        ra(3, 5, 71, "", 0),
        ra(4, 3, 71, "", 0),
        ra(5, 5, 72, "enrol_lti", 9),
        ra(6, 5, 73, "mod_foo", 3),
        ra(7, 5, 74, "enrol_database", 3),
        ra(8, 5, 75, "", 0),
        ra_raw(10, 5, 76, "<component/>", "<itemid>0</itemid>"),
        ra(13, 5, 77, "", 0),
        ra_raw(14, 5, 78, "<component></component>", "<itemid>0</itemid>"),
    ]);
    assert_eq!(got, expected);
    assert_eq!(c.report.role_assignments_rewritten, 4);
    assert_eq!(c.report.role_assignments_removed, 4);
    fx.assert_idempotent(&o, &c);
}

#[test]
fn group_members_of_converted_plugins_become_manual() {
    let g15: Vec<String> = vec![
        member(215, 68, "", 0),
        member(237, 60, "enrol_cohort", 2),
        member(238, 61, "enrol_lti", 9),
    ];
    let g16: Vec<String> = vec![
        member(240, 62, "enrol_cohort", 4),
        member(241, 63, "enrol_database", 3),
    ];
    let enrol = doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 60, 0, 0, 0)]),
        cohort("4", 0, &[ue(2, 62, 0, 0, 0)]),
        database("3", 0, &[ue(3, 63, 0, 0, 0)]),
    ]);
    let fx = Fx::new(enrol).groups(groups(&[(15, &g15), (16, &g16)]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let got = text(c.groups.as_deref().unwrap());
    let expected = groups(&[
        (
            15,
            &[
                member(215, 68, "", 0),
                member(237, 60, "", 0),
                member(238, 61, "enrol_lti", 9),
            ],
        ),
        (
            16,
            &[member(240, 62, "", 0), member(241, 63, "enrol_database", 3)],
        ),
    ]);
    assert_eq!(got, expected);
    // Untouched members are byte-identical (and at the same offsets before the first edit).
    for m in [&g15[0], &g15[2], &g16[1]] {
        assert!(got.contains(m.as_str()));
    }
    assert_eq!(c.report.group_members_rewritten, 2);
    assert!(c.course_roles.is_none());
    fx.assert_idempotent(&o, &c);
}

#[test]
fn roles_and_groups_without_anything_to_rewrite_stay_unchanged() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 5, 0, 0, 0)]),
    ]))
    .assigned(&[ra(1, 5, 5, "", 0)])
    .groups(groups(&[(1, &[member(1, 5, "", 0)])]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert!(c.enrolments.is_some());
    assert!(c.course_roles.is_none());
    assert!(c.groups.is_none());
}

// ---------------------------------------------------------------------------------------------------------
// 11. Nothing to convert.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn nothing_to_convert_is_a_noop_with_a_warning() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[ue(1, 5, 0, 0, 0)]),
        guest("2"),
        selfenrol("3"),
    ]))
    .assigned(&[ra(1, 5, 5, "enrol_cohort", 9)])
    .groups(groups(&[(1, &[member(1, 5, "enrol_cohort", 9)])]));
    let c = fx.run(&opts(&["database"], &[]));
    assert!(c.is_noop());
    assert!(c.report.target.is_none());
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(
        c.report.warnings[0].to_string().contains("database"),
        "{:?}",
        c.report.warnings
    );

    // `--from manual` converts nothing either.
    let c = fx.run(&opts(&["manual"], &[]));
    assert!(c.is_noop());
    assert_eq!(c.report.warnings.len(), 1);

    // No enrolments.xml at all.
    let c = Fx::default().run(&opts(&["cohort"], &[]));
    assert!(c.is_noop());
    assert_eq!(c.report.warnings.len(), 1);
    assert!(c.report.warnings[0].to_string().contains(ENROLMENTS));
}

#[test]
fn from_listing_a_plugin_absent_from_the_backup_still_converts_the_present_ones() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 5, 0, 0, 0)]),
    ]));
    let c = fx.run(&opts(&["database", "cohort", "meta"], &[]));
    assert_eq!(user(out(&c), 5), vec![row("1", 0, 0, 0)]);
    let plugins: Vec<_> = c.report.methods.iter().map(|m| m.plugin.as_str()).collect();
    assert_eq!(plugins, ["cohort"]);
    assert_eq!(c.report.from, ["database", "cohort", "meta"]);
}
