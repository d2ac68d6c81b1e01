//! What apply never does to a live course: suspend a user the live course has active (the backup may be older
//! than a reactivation), or send again, on Moodle 4.4+ with the welcome message on, a write whose answer was
//! lost when the read-back cannot tell whether it was written (a second call would mail the users again).

use super::standin::{Enrolled, Site, StandIn};
use super::{apply_to, count, fixture, promise, site, welcome_input};
use crate::util::{self, tempdir};

#[test]
fn a_user_active_now_is_never_suspended_from_the_backup() {
    let dir = tempdir();
    let input = dir.path().join("suspended.mbz");
    // The cohort instance's first user enrolment suspended (status 1).
    util::with_member(
        &fixture(),
        "course/enrolments.xml",
        |x| {
            let cohort = x.find("<enrol>cohort</enrol>").unwrap();
            let at = x[cohort..].find("<enrolment id=").unwrap() + cohort;
            let s = x[at..].find("<status>0</status>").unwrap() + at;
            format!("{}<status>1</status>{}", &x[..s], &x[s + 17..])
        },
        &input,
    );
    let (_, _, promised) = promise(&input);
    let (&uid, e) = promised.iter().find(|(_, e)| e.suspend == 1).unwrap();
    let (site, _) = site();
    // Since the backup, the user was reactivated in the live course.
    let mut users = site.users.clone();
    users.insert(
        uid,
        Enrolled {
            roles: e.roles.clone(),
            groups: e.groups.clone(),
            timestart: 0,
            timeend: 0,
            suspend: 0,
        },
    );
    let s = StandIn::start(Site { users, ..site });
    let (o, text, _) = apply_to(&input, &s.url, dir.path(), &[]);
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("active in the live course now but suspended in the backup: not suspended"),
        "{text}"
    );
    assert_eq!(
        s.site.lock().unwrap().users[&uid].suspend,
        0,
        "still active"
    );
    // The others were enrolled as promised.
    assert!(count(&s, "enrol_manual_enrol_users") >= 1);
}

#[test]
fn a_lost_answer_that_cannot_be_told_is_not_sent_again_where_it_would_mail_again() {
    let dir = tempdir();
    let input = welcome_input(dir.path());
    let (site, promised) = site();
    // Every user is already a participant (through the sync): the read-back cannot prove new dates.
    let users = promised
        .iter()
        .map(|(&u, e)| {
            (
                u,
                Enrolled {
                    timeend: 0,
                    ..e.clone()
                },
            )
        })
        .collect();
    let s = StandIn::start(Site {
        version: "2025041400",
        lose_next_answer: true,
        users,
        ..site
    });
    let (o, text, _) = apply_to(&input, &s.url, dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("not sent again"), "{text}");
    assert_eq!(
        count(&s, "enrol_manual_enrol_users"),
        1,
        "{:?}",
        s.functions()
    );
}

#[test]
fn a_secret_pasted_into_the_url_is_never_shown() {
    for url in [
        "https://m.example/webservice/rest/server.php?wstoken=SECRETinQUERY",
        "https://bob:SECRETinUSERINFO@m.example/moodle",
        "https://m.example/moodle#SECRETinFRAGMENT",
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mbz-enrol"))
            .args(["apply", fixture().to_str().unwrap(), "--url", url])
            .args(["--until", "2027-08-31", "--timezone", "Europe/Paris"])
            .env("MBZ_MOODLE_TOKEN", super::TOKEN)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(text.contains("--url"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
    }
}

#[test]
fn a_separate_groups_course_listed_empty_is_refused_before_any_write() {
    // A role without moodle/site:accessallgroups: Moodle lists nobody in a separate-groups course.
    let (site, _) = site();
    let s = StandIn::start(Site {
        groupmode: 1,
        ..site
    });
    let dir = tempdir();
    let (o, text, _) = apply_to(&fixture(), &s.url, dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("moodle/site:accessallgroups"), "{text}");
    assert_eq!(count(&s, "enrol_manual_enrol_users"), 0);
}
