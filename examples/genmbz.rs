//! Generates Moodle-shaped course backups at scale, for benchmarks: the element layout of the shared Moodle 4.3
//! fixtures (users-and-roles backups with cohort sync instances), POSIX ustar with a fresh `.ARCHIVE_INDEX`, or zip.
//! Deterministic for a seed.
//!
//! ```sh
//! cargo run --release --example genmbz -- --users 30000 --instances 3 --files 3000 --file-size 65536 \
//!     --random --container tgz --seed 1 -o big.mbz
//! ```
//!
//! `--text-percent 50` with `--random` makes half of the files XML/HTML-like course text (the B1m bench).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use mbz_enrol::archive::pgzip::ParGz;
use mbz_enrol::archive::tar::{self, Member};
use mbz_enrol::testkit::{self, Inst, Ue};

/// What to generate (`pub` for the benches, which include this file as a module).
pub struct Args {
    /// Users converted (cohort members), spread over the instances.
    pub users: usize,
    /// Cohort sync instances.
    pub instances: usize,
    /// Files in `files/`.
    pub files: usize,
    /// Bytes per file.
    pub file_size: usize,
    /// Random (incompressible) file content instead of text.
    pub random: bool,
    /// With `random`: this percentage of the files (spread evenly) holds XML/HTML-like course text instead
    /// (deflates about 4 to 5 times). 0 keeps the files of earlier versions, byte for byte.
    pub text_percent: usize,
    /// A zip instead of a tar.gz.
    pub zip: bool,
    /// The seed.
    pub seed: u64,
    /// Where to write.
    pub output: PathBuf,
}

const USAGE: &str = "usage: genmbz [--users N] [--instances N] [--files N] [--file-size BYTES] \
                     [--random | --compressible] [--text-percent P] [--container tgz|zip] [--seed N] [-o FILE]";

fn parse() -> Args {
    let mut a = Args {
        users: 30,
        instances: 1,
        files: 0,
        file_size: 65_536,
        random: false,
        text_percent: 0,
        zip: false,
        seed: 1,
        output: PathBuf::from("generated.mbz"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_default();
        match flag.as_str() {
            "--users" => a.users = value().parse().unwrap_or(a.users),
            "--instances" => a.instances = value().parse().unwrap_or(a.instances).max(1),
            "--files" => a.files = value().parse().unwrap_or(0),
            "--file-size" => a.file_size = value().parse().unwrap_or(a.file_size),
            "--random" => a.random = true,
            "--compressible" => a.random = false,
            "--text-percent" => a.text_percent = value().parse::<usize>().unwrap_or(0).min(100),
            "--container" => a.zip = value() == "zip",
            "--seed" => a.seed = value().parse().unwrap_or(1),
            "-o" | "--output" => a.output = PathBuf::from(value()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => {
                eprintln!("genmbz: unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const T: u64 = 1_795_273_328;

fn moodle_backup(a: &Args) -> String {
    let files = if a.files > 0 { 1 } else { 0 };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<moodle_backup>
  <information>
    <name>generated.mbz</name>
    <moodle_version>2023100900</moodle_version>
    <moodle_release>4.3 (Build: 20231009)</moodle_release>
    <backup_version>2023100900</backup_version>
    <backup_release>4.3</backup_release>
    <backup_date>{T}</backup_date>
    <mnet_remoteusers>0</mnet_remoteusers>
    <include_files>{files}</include_files>
    <include_file_references_to_external_content>0</include_file_references_to_external_content>
    <original_wwwroot>https://moodle.example.com</original_wwwroot>
    <original_site_identifier_hash>0123456789abcdef0123456789abcdef</original_site_identifier_hash>
    <original_course_id>900</original_course_id>
    <original_course_format>topics</original_course_format>
    <original_course_fullname>Generated course</original_course_fullname>
    <original_course_shortname>GEN_{seed}</original_course_shortname>
    <original_course_startdate>1725141600</original_course_startdate>
    <original_course_enddate>0</original_course_enddate>
    <original_course_contextid>9000</original_course_contextid>
    <original_system_contextid>1</original_system_contextid>
    <details>
      <detail backup_id="0123456789abcdef0123456789abcdef">
        <type>course</type>
        <format>moodle2</format>
        <interactive>1</interactive>
        <mode>10</mode>
        <execution>1</execution>
        <executiontime>0</executiontime>
      </detail>
    </details>
    <contents>
      <course>
        <courseid>900</courseid>
        <title>GEN_{seed}</title>
        <directory>course</directory>
      </course>
    </contents>
    <settings>
      <setting>
        <level>root</level>
        <name>users</name>
        <value>1</value>
      </setting>
      <setting>
        <level>root</level>
        <name>role_assignments</name>
        <value>1</value>
      </setting>
      <setting>
        <level>root</level>
        <name>files</name>
        <value>{files}</value>
      </setting>
      <setting>
        <level>root</level>
        <name>groups</name>
        <value>1</value>
      </setting>
    </settings>
  </information>
</moodle_backup>"#,
        seed = a.seed
    )
}

/// A user enrolment modified at the generator's time.
fn enrolment(id: usize, user: usize, start: u64) -> Ue {
    testkit::ue(id as u64, user as i64, 0, start as i64, 0).modified(T as i64)
}

/// An instance with Moodle's default settings, created and modified at the generator's time.
fn instance(id: usize, plugin: &str, ues: &[Ue]) -> Inst {
    let t = T.to_string();
    testkit::inst(id, plugin, 0, ues)
        .set("timecreated", &t)
        .set("timemodified", &t)
}

/// The XML members, by path.
pub fn documents(a: &Args) -> Vec<(String, Vec<u8>)> {
    let teacher = 100_000_000;
    // course/enrolments.xml: a manual instance with one teacher, then the cohort instances sharing the users.
    let mut insts = vec![instance(
        1,
        "manual",
        &[enrolment(1, teacher, 1_725_148_800)],
    )];
    let mut ue = 10;
    for k in 0..a.instances {
        let ues: Vec<Ue> = (0..a.users)
            .filter(|u| u % a.instances == k)
            .map(|u| {
                ue += 1;
                enrolment(ue - 1, 1000 + u, 0)
            })
            .collect();
        insts.push(
            instance(10 + k, "cohort", &ues)
                .set("customint1", &(50 + k).to_string())
                .set("customint2", "0"),
        );
    }
    let e = testkit::enrolments(&insts);
    // course/roles.xml
    let assignment = |id: usize, role: i64, user: usize, component: &str, item: usize| {
        testkit::assignment(
            id as u64,
            role,
            user as i64,
            component,
            item as i64,
            T as i64,
        )
    };
    let mut r = assignment(1, 3, teacher, "", 0);
    for u in 0..a.users {
        r.push_str(&assignment(
            10 + u,
            5,
            1000 + u,
            "enrol_cohort",
            10 + u % a.instances,
        ));
    }
    let r = testkit::course_roles(&r);
    // users.xml
    let mut users = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<users>\n");
    let user = |id: usize, name: &str| {
        format!(
            "  <user id=\"{id}\" contextid=\"{}\">\n    <username>{name}</username>\n    <idnumber>{}</idnumber>\n    \
             <email>{name}@corpus.example.com</email>\n    <firstname>First</firstname>\n    <lastname>Last {name}</lastname>\n    \
             <auth>manual</auth>\n    <confirmed>1</confirmed>\n    <deleted>0</deleted>\n    <timecreated>{T}</timecreated>\n  </user>\n",
            id + 5000,
            name.to_uppercase()
        )
    };
    users.push_str(&user(teacher, "teacher1"));
    for u in 0..a.users {
        users.push_str(&user(1000 + u, &format!("gen{u:06}")));
    }
    users.push_str("</users>");
    let roles = testkit::roles_def(&[(3, "editingteacher"), (5, "student")]);
    let simple =
        |root: &str| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root}>\n</{root}>");
    vec![
        ("course/course.xml".into(), format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<course id=\"900\" contextid=\"9000\">\n  <shortname>GEN_{}</shortname>\n  <fullname>Generated course</fullname>\n  <idnumber>GEN-{}</idnumber>\n</course>", a.seed, a.seed).into_bytes()),
        ("course/inforef.xml".into(), simple("inforef").into_bytes()),
        ("course/roles.xml".into(), r.into_bytes()),
        ("course/enrolments.xml".into(), e.into_bytes()),
        ("groups.xml".into(), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<groups>\n  <groupings>\n  </groupings>\n</groups>".as_bytes().to_vec()),
        ("moodle_backup.xml".into(), moodle_backup(a).into_bytes()),
        ("outcomes.xml".into(), simple("outcomes_definition").into_bytes()),
        ("questions.xml".into(), simple("question_categories").into_bytes()),
        ("roles.xml".into(), roles.into_bytes()),
        ("scales.xml".into(), simple("scales_definition").into_bytes()),
        ("users.xml".into(), users.into_bytes()),
    ]
}

fn file_content(a: &Args, i: usize, rng: &mut Rng, text: &mut Rng) -> Vec<u8> {
    if a.random && is_text(a.text_percent, i) {
        course_text(a.file_size, text)
    } else if a.random {
        let mut v = Vec::with_capacity(a.file_size + 8);
        while v.len() < a.file_size {
            v.extend_from_slice(&rng.next().to_le_bytes());
        }
        v.truncate(a.file_size);
        v
    } else {
        let line = format!(
            "Generated course material, paragraph {}: lorem ipsum dolor sit amet.\n",
            rng.next() % 1000
        );
        line.bytes().cycle().take(a.file_size).collect()
    }
}

/// Whether file `i` holds text when `percent` of the files do: spread evenly (50 %: every other file).
fn is_text(percent: usize, i: usize) -> bool {
    (i + 1) * percent / 100 != i * percent / 100
}

/// `size` bytes of XML/HTML-like course content (question text, pages, forum posts): tags and words drawn from
/// small vocabularies, numbers, the way activity XML and HTML pages repeat themselves. Deflates about 4 to 5 times at
/// level 6. Deterministic for the state of `rng` (a stream of its own, so random files stay what they were).
fn course_text(size: usize, rng: &mut Rng) -> Vec<u8> {
    const WORDS: [&str; 64] = [
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "that",
        "for",
        "it",
        "as",
        "with",
        "was",
        "on",
        "be",
        "at",
        "by",
        "this",
        "are",
        "from",
        "or",
        "an",
        "which",
        "student",
        "course",
        "answer",
        "question",
        "module",
        "lesson",
        "quiz",
        "grade",
        "feedback",
        "assignment",
        "submission",
        "forum",
        "discussion",
        "resource",
        "page",
        "week",
        "topic",
        "section",
        "activity",
        "completion",
        "teacher",
        "group",
        "cohort",
        "enrolment",
        "learning",
        "outcome",
        "rubric",
        "criterion",
        "level",
        "score",
        "attempt",
        "review",
        "deadline",
        "file",
        "folder",
        "label",
        "chapter",
        "book",
        "glossary",
        "entry",
        "wiki",
        "workshop",
    ];
    const TAGS: [(&str, &str); 8] = [
        ("<p>", "</p>\n"),
        ("<li>", "</li>\n"),
        (
            "<questiontext format=\"1\">&lt;p&gt;",
            "&lt;/p&gt;</questiontext>\n",
        ),
        ("<feedback>", "</feedback>\n"),
        ("<h3 class=\"section-title\">", "</h3>\n"),
        ("<td class=\"cell c1\">", "</td>\n"),
        ("<answer fraction=\"0.0000000\">", "</answer>\n"),
        (
            "<div class=\"no-overflow\"><span lang=\"en\" class=\"multilang\">",
            "</span></div>\n",
        ),
    ];
    let mut v = Vec::with_capacity(size + 1024);
    while v.len() < size {
        let r = rng.next();
        let (open, close) = TAGS[(r & 7) as usize];
        if r >> 3 & 3 == 0 {
            v.extend_from_slice(
                format!(
                    "<item id=\"{}\" timemodified=\"{}\">\n",
                    r >> 40,
                    T + (r >> 48)
                )
                .as_bytes(),
            );
        }
        v.extend_from_slice(open.as_bytes());
        let words = 4 + (r >> 5) % 20;
        let mut w = rng.next();
        for k in 0..words {
            if k % 10 == 9 {
                w = rng.next();
            }
            if k > 0 {
                v.push(b' ');
            }
            v.extend_from_slice(WORDS[(w & 63) as usize].as_bytes());
            w >>= 6;
        }
        if r >> 12 & 3 == 0 {
            v.extend_from_slice(format!(" {}.{:02}", (r >> 16) % 1000, (r >> 26) % 100).as_bytes());
        }
        v.extend_from_slice(close.as_bytes());
    }
    v.truncate(size);
    v
}

fn main() -> std::io::Result<()> {
    let a = parse();
    let mut rng = Rng(a.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut docs = documents(&a);
    let mut files_xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<files>\n");
    let mut files: Vec<(String, usize)> = Vec::new();
    for i in 0..a.files {
        let hash = format!(
            "{:016x}{:016x}{:08x}",
            rng.next(),
            rng.next(),
            rng.next() as u32
        );
        files_xml.push_str(&format!(
            "  <file id=\"{i}\">\n    <contenthash>{hash}</contenthash>\n    <filesize>{}</filesize>\n  </file>\n",
            a.file_size
        ));
        files.push((format!("files/{}/{hash}", &hash[..2]), i));
    }
    files_xml.push_str("</files>");
    docs.push(("files.xml".into(), files_xml.into_bytes()));
    docs.sort();
    let out = BufWriter::new(File::create(&a.output)?);
    let mut content_rng = Rng(a.seed.wrapping_add(7) | 1);
    let mut text_rng = Rng(a.seed.wrapping_add(11) | 1);
    if a.zip {
        let mut z = zip::ZipWriter::new(out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for (name, data) in &docs {
            z.start_file(name.as_str(), opts)
                .map_err(std::io::Error::other)?;
            z.write_all(data)?;
        }
        for (name, i) in &files {
            z.start_file(name.as_str(), opts)
                .map_err(std::io::Error::other)?;
            z.write_all(&file_content(&a, *i, &mut content_rng, &mut text_rng))?;
        }
        z.start_file("moodle_backup.log", opts)
            .map_err(std::io::Error::other)?;
        z.finish().map_err(std::io::Error::other)?;
        return Ok(());
    }
    // tar.gz: members in Moodle's order, with directories, and an index first.
    let mut members: Vec<Member> = Vec::new();
    let mut dirs = std::collections::BTreeSet::new();
    let dir_of = |path: &str| path.rsplit_once('/').map(|(d, _)| format!("{d}/"));
    // (member, its document, its file number)
    let mut plan: Vec<(Member, Option<usize>, usize)> = Vec::new();
    let mut add_dirs = |path: &str, plan: &mut Vec<(Member, Option<usize>, usize)>| {
        let mut prefix = String::new();
        if let Some(d) = dir_of(path) {
            for part in d.trim_end_matches('/').split('/') {
                prefix.push_str(part);
                prefix.push('/');
                if dirs.insert(prefix.clone()) {
                    plan.push((
                        Member::dir(prefix.as_bytes(), 0o755, tar::DEFAULT_TIMESTAMP),
                        None,
                        0,
                    ));
                }
            }
        }
    };
    for (i, (name, data)) in docs.iter().enumerate() {
        add_dirs(name, &mut plan);
        plan.push((
            Member::file(name.as_bytes(), data.len() as u64, 0o644, T),
            Some(i),
            0,
        ));
    }
    for (name, i) in &files {
        add_dirs(name, &mut plan);
        plan.push((
            Member::file(name.as_bytes(), a.file_size as u64, 0o644, T),
            None,
            *i,
        ));
    }
    plan.push((Member::file(b"moodle_backup.log", 0, 0o644, T), None, 0));
    members.extend(plan.iter().map(|(m, _, _)| m.clone()));
    let index = tar::archive_index(&members);
    let mut w = tar::Writer::new(ParGz::new(out, 6, 2));
    w.append_bytes(&tar::index_member(index.len() as u64), &index)
        .map_err(std::io::Error::other)?;
    for (m, doc, i) in &plan {
        match doc {
            Some(d) => w.append_bytes(m, &docs[*d].1),
            None if m.kind == tar::Kind::Dir || m.size == 0 => w.append_bytes(m, &[]),
            None => w.append_bytes(m, &file_content(&a, *i, &mut content_rng, &mut text_rng)),
        }
        .map_err(std::io::Error::other)?;
    }
    w.finish().map_err(std::io::Error::other)?.finish()?;
    Ok(())
}
