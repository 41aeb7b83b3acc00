//! `policy.major_steps`: the setting, and what `select` makes of it.

use super::*;

/// `major_steps = "one"`: the newest allowed release of the next major,
/// never past it, and the release past it named as held back; the
/// never-lower rule and the other reasons still apply.
#[test]
fn one_major_step_opens_the_next_major_only() {
    const MAJORS: &[(&str, u64)] = &[
        ("10.1.1", 2),
        ("10.0.0", 3),
        ("9.0.0", 10),
        ("8.0.0", 20),
        ("7.0.0-rc.1", 29),
        ("6.4.0", 30),
        ("6.0.0", 60),
        ("5.52.0", 70),
        ("5.51.6", 80),
    ];
    let all = [Patch, Minor, Major];
    // (pin, update types, ignore, min age days, deprecated, proposed, update, held back)
    type Case<'a> = (
        &'a str,
        &'a [UpdateType],
        &'a [&'a str],
        u64,
        &'a [&'a str],
        Option<&'a str>,
        Option<UpdateType>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        // Five majors behind: the newest 6.x, not 10.1.1 nor 5.52.0.
        (
            "5.51.6",
            &all,
            &[],
            0,
            &[],
            Some("6.4.0"),
            Some(Major),
            Some("10.1.1"),
        ),
        // Major 7 has only a pre-release: 8 is the next major published.
        (
            "6.0.0",
            &all,
            &[],
            0,
            &[],
            Some("8.0.0"),
            Some(Major),
            Some("10.1.1"),
        ),
        (
            "9.0.0",
            &all,
            &[],
            0,
            &[],
            Some("10.1.1"),
            Some(Major),
            None,
        ),
        ("10.1.1", &all, &[], 0, &[], None, None, None),
        // Majors not allowed: stepping changes nothing.
        (
            "5.51.6",
            &[Patch, Minor],
            &[],
            0,
            &[],
            Some("5.52.0"),
            Some(Minor),
            Some("10.1.1"),
        ),
        // An ignored or deprecated next major is stepped over, to the
        // next one the policy takes.
        (
            "5.51.6",
            &all,
            &["6"],
            0,
            &[],
            Some("8.0.0"),
            Some(Major),
            Some("10.1.1"),
        ),
        (
            "5.51.6",
            &all,
            &[],
            0,
            &["6.4.0", "6.0.0"],
            Some("8.0.0"),
            Some(Major),
            Some("10.1.1"),
        ),
        // The next major too young: wait (take the minor), never jump.
        (
            "5.51.6",
            &all,
            &[],
            65,
            &[],
            Some("5.52.0"),
            Some(Minor),
            Some("10.1.1"),
        ),
        (
            "5.51.6",
            &all,
            &[],
            45,
            &[],
            Some("6.0.0"),
            Some(Major),
            Some("10.1.1"),
        ),
    ];
    for &(pin, types, ignore, age, deprecated, proposed, update, held) in cases {
        let mut rs = releases(MAJORS);
        for r in &mut rs {
            r.deprecated = deprecated.contains(&r.version.as_str());
        }
        let mut p = policy(types, ignore, DAY * age as u32);
        p.major_steps = MajorSteps::One;
        let s = select(&Version::parse(pin), &rs, &p, now());
        let ctx = format!("{pin} {types:?} {ignore:?} {age}d {deprecated:?}");
        assert_eq!(s.newer.map(|r| r.version.as_str()), proposed, "{ctx}");
        assert_eq!(s.update, update, "{ctx}");
        assert_eq!(
            s.held_back.as_ref().map(|h| h.release.version.as_str()),
            held,
            "{ctx}"
        );
    }
    // The same index under the default: straight to the newest.
    let rs = releases(MAJORS);
    let s = select(
        &Version::parse("5.51.6"),
        &rs,
        &EffectivePolicy::any(),
        now(),
    );
    assert_eq!(s.newer.map(|r| r.version.as_str()), Some("10.1.1"));
    // What people read for the release past the step.
    let mut p = EffectivePolicy::any();
    p.major_steps = MajorSteps::One;
    let s = select(&Version::parse("5.51.6"), &rs, &p, now());
    assert_eq!(
        s.held_back.unwrap().to_string(),
        "10.1.1 is more than one major ahead; policy.major_steps = \"one\" takes 6.4.0 first"
    );
}

/// `policy.major_steps` reads `newest` (the default) or `one`, from the
/// file or the environment; anything else names the key and the values.
#[test]
fn major_steps_setting_is_newest_or_one() {
    use crate::settings::Settings;
    use std::collections::HashMap;
    let load = |text: &str, vars: &[(&str, &str)]| {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(Some(f.path()), &env).map_err(|e| e.to_string())
    };
    let s = load("", &[]).unwrap();
    assert_eq!(s.policy.major_steps, MajorSteps::Newest);
    let s = load("[policy]\nmajor_steps = \"one\"\n", &[]).unwrap();
    assert_eq!(s.policy.major_steps, MajorSteps::One);
    assert_eq!(
        EffectivePolicy::for_chart(&s.policy, "argo-cd")
            .unwrap()
            .major_steps,
        MajorSteps::One
    );
    let s = load("", &[("CHARTPILOT__POLICY__MAJOR_STEPS", "one")]).unwrap();
    assert_eq!(s.policy.major_steps, MajorSteps::One);
    let e = load("[policy]\nmajor_steps = \"two\"\n", &[]).unwrap_err();
    assert!(
        e.contains("policy.major_steps") && e.contains("\"two\" is not one of newest, one"),
        "{e}"
    );
}
