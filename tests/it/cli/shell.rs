//! Shell integration: the completion scripts complete past the command (bash run for real; zsh and fish when
//! installed), one man page per command with every option, `--version` with the commit, `-j`.

use super::*;

/// The commands, as the top man page and the help list them.
const COMMANDS: &[&str] = &[
    "convert",
    "batch",
    "plan",
    "apply",
    "renew",
    "inspect",
    "verify",
    "completions",
    "manpage",
];

/// The completion script for `shell`, written into `dir`.
fn script(dir: &Path, shell: &str) -> PathBuf {
    let o = run(&["completions", shell]);
    assert!(o.status.success(), "completions {shell}: {}", stderr(&o));
    let path = dir.join(format!("mbz-enrol.{shell}"));
    std::fs::write(&path, o.stdout).unwrap();
    path
}

/// Whether `shell` runs here.
fn have(shell: &str) -> bool {
    std::process::Command::new(shell)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What bash's completion function offers for the command line `line` (the cursor at its end).
fn bash_complete(script: &Path, line: &str) -> Vec<String> {
    let code = r#"
source "$1"
read -ra COMP_WORDS <<< "$2"
[[ "$2" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
_mbz__enrol mbz-enrol "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let o = std::process::Command::new("bash")
        .args(["-c", code, "bash"])
        .arg(script)
        .arg(line)
        .current_dir(script.parent().unwrap())
        .output()
        .expect("bash");
    assert!(o.status.success(), "{line}: {}", stderr(&o));
    let mut words: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    words.sort();
    words
}

#[test]
fn bash_completes_options_and_values_past_the_command() {
    let dir = tempdir();
    let bash = script(dir.path(), "bash");
    let cases: &[(&str, &[&str])] = &[
        ("mbz-enrol convert --ti", &["--timezone"]),
        ("mbz-enrol convert --t", &["--target", "--timezone"]),
        (
            "mbz-enrol plan --format ",
            &["json", "toolsync", "uploaduser", "ws"],
        ),
        ("mbz-enrol convert --target ", &["existing", "live", "new"]),
        ("mbz-enrol batch -j", &["-j"]),
        ("mbz-enrol renew --set-", &["--set-status"]),
        ("mbz-enrol verify --ag", &["--against"]),
        // Global options complete under every command.
        ("mbz-enrol inspect --max-x", &["--max-xml-mib"]),
        ("mbz-enrol manpage --d", &["--dir"]),
        ("mbz-enrol completions f", &["fish"]),
        // The top level, as before.
        ("mbz-enrol pl", &["plan"]),
    ];
    for (line, want) in cases {
        assert_eq!(bash_complete(&bash, line), *want, "{line:?}");
    }
}

#[test]
fn zsh_and_fish_scripts_load_and_fish_completes_past_the_command() {
    let dir = tempdir();
    if have("zsh") {
        let zsh = script(dir.path(), "zsh");
        let o = std::process::Command::new("zsh")
            .arg("-n")
            .arg(&zsh)
            .output()
            .unwrap();
        assert!(o.status.success(), "zsh -n: {}", stderr(&o));
        // Loaded by compinit's way (autoload from fpath), the function is defined.
        let o = std::process::Command::new("zsh")
            .args(["-f", "-c"])
            .arg("autoload -U compinit && compinit -u -D && source \"$1\" && (( $+functions[_mbz-enrol] ))")
            .arg("zsh")
            .arg(&zsh)
            .output()
            .unwrap();
        assert!(o.status.success(), "zsh load: {}", stderr(&o));
    } else {
        eprintln!(
            "skipped (zsh part of zsh_and_fish_scripts_load_and_fish_completes_past_the_command): zsh not found"
        );
    }
    if have("fish") {
        let fish = script(dir.path(), "fish");
        let complete = |line: &str| {
            let o = std::process::Command::new("fish")
                .args(["--no-config", "-c"])
                .arg(format!("source {}; complete -C '{line}'", fish.display()))
                .output()
                .unwrap();
            assert!(o.status.success(), "fish: {}", stderr(&o));
            let mut words: Vec<String> = String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(|l| l.split('\t').next().unwrap().to_owned())
                .collect();
            words.sort();
            words
        };
        assert_eq!(complete("mbz-enrol convert --ti"), ["--timezone"]);
        assert_eq!(
            complete("mbz-enrol plan --format "),
            ["json", "toolsync", "uploaduser", "ws"]
        );
    } else {
        eprintln!(
            "skipped (fish part of zsh_and_fish_scripts_load_and_fish_completes_past_the_command): fish not found"
        );
    }
}

/// The long options `--help` of `args` lists (every option the command takes, global ones included).
fn help_options(args: &[&str]) -> Vec<String> {
    let help = String::from_utf8(run(args).stdout).unwrap();
    let mut opts: Vec<String> = help
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("-").map(|_| l.trim_start()))
        .flat_map(|l| l.split([' ', ',']).filter(|w| w.starts_with("--")))
        .map(str::to_owned)
        .collect();
    opts.dedup();
    opts
}

#[test]
fn every_command_has_a_man_page_with_every_option() {
    let dir = tempdir();
    let man = dir.path().join("man1");
    let o = run(&["manpage", "--dir", man.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut files: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    let mut want: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("mbz-enrol-{c}.1"))
        .chain(["mbz-enrol.1".to_owned()])
        .collect();
    want.sort();
    assert_eq!(files, want);
    // `manpage` alone prints the top page, as written into the folder.
    let top = std::fs::read_to_string(man.join("mbz-enrol.1")).unwrap();
    assert_eq!(String::from_utf8(run(&["manpage"]).stdout).unwrap(), top);
    // Every page the top page names exists, and it names every command's page.
    let named: Vec<&str> = top
        .split("mbz\\-enrol\\-")
        .skip(1)
        .map(|rest| rest.split('(').next().unwrap())
        .collect();
    assert_eq!(named, COMMANDS, "{top}");
    for page in &named {
        assert!(man.join(format!("mbz-enrol-{page}.1")).is_file(), "{page}");
    }
    // Each command's page: its name, its synopsis and every option of its --help.
    for c in COMMANDS {
        let text = std::fs::read_to_string(man.join(format!("mbz-enrol-{c}.1"))).unwrap();
        assert!(
            text.contains(&format!(".TH mbz-enrol-{c} 1")),
            "{c}: {text}"
        );
        assert!(text.contains(&format!("mbz\\-enrol {c}")), "{c}: {text}");
        let opts = help_options(&[c, "--help"]);
        assert!(opts.contains(&"--max-xml-mib".to_owned()), "{c}: {opts:?}");
        for opt in opts {
            assert!(
                text.contains(&opt.replace('-', "\\-")),
                "mbz-enrol-{c}(1) lacks {opt}"
            );
        }
    }
}

#[test]
fn version_names_the_commit_and_its_date() {
    let o = run(&["--version"]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(util::root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned())
    };
    let (commit, date) = match git(&["rev-parse", "--short=9", "HEAD"]) {
        Some(c) => (
            c,
            git(&["log", "-1", "--format=%cd", "--date=short", "HEAD"]).unwrap(),
        ),
        None => ("unknown".to_owned(), "date unknown".to_owned()),
    };
    assert_eq!(
        text.trim_end(),
        format!(
            "mbz-enrol {} (commit {commit}, {date})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn j_is_short_for_jobs() {
    let dir = util::good_fixtures();
    let out = tempdir();
    let o = run(&[
        "batch",
        dir.path().to_str().unwrap(),
        "-o",
        out.path().join("out").to_str().unwrap(),
        "--until",
        UNTIL,
        "-j",
        "1",
        "--dry-run",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("with 1 job"), "{}", stderr(&o));
}
