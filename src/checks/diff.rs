//! Which pins a pull request added or changed, and the rollout stage each
//! pin belongs to: pure functions over two scans.

use std::collections::BTreeMap;

use super::rules::Change;
use crate::pins::{Pin, PinKind};

/// What makes a pin the same pin in two scans: where it is written and
/// what it deploys, not its line (edits above it move it).
type Identity = (String, PinKind, String, Option<String>);

fn identity(pin: &Pin) -> Identity {
    (
        pin.file.clone(),
        pin.kind,
        pin.name.clone(),
        pin.chart_name().map(str::to_owned),
    )
}

/// The pins of `head` that `base` does not have, or has with another
/// version, range or repository. Pins sharing an identity pair up in
/// order; removed pins are not changes the check judges.
pub fn changed(base: &[Pin], head: &[Pin]) -> Vec<Change> {
    let mut before: BTreeMap<Identity, Vec<&Pin>> = BTreeMap::new();
    for pin in base {
        before.entry(identity(pin)).or_default().push(pin);
    }
    let mut taken: BTreeMap<Identity, usize> = BTreeMap::new();
    let mut changes = Vec::new();
    for pin in head {
        let key = identity(pin);
        let n = taken.entry(key.clone()).or_default();
        let old = before.get(&key).and_then(|pins| pins.get(*n)).copied();
        *n += 1;
        let same = old.is_some_and(|o| {
            o.version == pin.version
                && o.constraint == pin.constraint
                && o.repository == pin.repository
                && o.chart == pin.chart
        });
        if !same {
            changes.push(Change {
                head: pin.clone(),
                base: old.cloned(),
            });
        }
    }
    changes
}

/// A pin's place in the rollout: its environment's index in
/// `policy.environments`, or for a Terraform pin without one, the index of
/// the first `policy.tier1_order` entry that is its file or a folder
/// holding it.
pub fn stage(
    pin: &Pin,
    environments: &[String],
    tier1_order: &[String],
) -> Option<(usize, String)> {
    if let Some(env) = &pin.env {
        return environments
            .iter()
            .position(|e| e == env)
            .map(|i| (i, env.clone()));
    }
    if pin.kind != PinKind::Terraform {
        return None;
    }
    tier1_order.iter().enumerate().find_map(|(i, entry)| {
        let entry = entry.trim().trim_matches('/');
        let inside = pin.file == entry
            || pin
                .file
                .strip_prefix(entry)
                .is_some_and(|rest| rest.starts_with('/'));
        (!entry.is_empty() && inside).then(|| (i, entry.to_owned()))
    })
}

/// The nearest earlier stage that pins the same chart (in `head` or
/// `base`), with those pins: the stage a version must pass first. None
/// when the pin has no stage, is first, or no earlier stage deploys it.
pub fn earlier_stage<'a>(
    pin: &Pin,
    pins: &[&'a Pin],
    environments: &[String],
    tier1_order: &[String],
) -> Option<(String, Vec<&'a Pin>)> {
    let (own, _) = stage(pin, environments, tier1_order)?;
    let chart = pin.chart_name()?;
    let mut best: Option<(usize, String, Vec<&'a Pin>)> = None;
    for other in pins {
        if other.chart_name() != Some(chart) {
            continue;
        }
        let Some((i, name)) = stage(other, environments, tier1_order) else {
            continue;
        };
        if i >= own {
            continue;
        }
        match &mut best {
            Some((b, _, list)) if *b == i => list.push(other),
            Some((b, _, _)) if *b > i => {}
            _ => best = Some((i, name, vec![*other])),
        }
    }
    best.map(|(_, name, list)| (name, list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(env: Option<&str>, chart: &str, version: &str) -> Pin {
        Pin::sample(PinKind::Argocd, env, chart, version)
    }

    fn tf(file: &str, chart: &str, version: &str) -> Pin {
        Pin {
            file: file.into(),
            ..Pin::sample(PinKind::Terraform, None, chart, version)
        }
    }

    /// Base pins, head pins, and (environment, had a base) per change.
    type Case = (Vec<Pin>, Vec<Pin>, Vec<(&'static str, bool)>);

    #[test]
    fn only_added_and_changed_pins_are_changes() {
        let moved_line = Pin {
            line: 9,
            ..pin(Some("dev"), "web", "1.0.0")
        };
        let mut ranged = pin(Some("staging"), "web", "1.0.0");
        ranged.version = None;
        ranged.constraint = Some("1.x".into());
        let cases: Vec<Case> = vec![
            // Nothing changed, a line moved: no change.
            (
                vec![pin(Some("dev"), "web", "1.0.0")],
                vec![moved_line],
                vec![],
            ),
            // A bump.
            (
                vec![pin(Some("prod"), "web", "1.0.0")],
                vec![pin(Some("prod"), "web", "1.1.0")],
                vec![("prod", true)],
            ),
            // A new pin.
            (
                vec![],
                vec![pin(Some("dev"), "db", "2.0.0")],
                vec![("dev", false)],
            ),
            // A version turned into a range.
            (
                vec![pin(Some("staging"), "web", "1.0.0")],
                vec![ranged],
                vec![("staging", true)],
            ),
            // A removal is not judged.
            (vec![pin(Some("dev"), "web", "1.0.0")], vec![], vec![]),
        ];
        for (base, head, want) in cases {
            let got: Vec<(&str, bool)> = changed(&base, &head)
                .iter()
                .map(|c| {
                    let env = match c.head.env.as_deref() {
                        Some("dev") => "dev",
                        Some("staging") => "staging",
                        Some("prod") => "prod",
                        _ => "?",
                    };
                    (env, c.base.is_some())
                })
                .collect();
            assert_eq!(got, want, "{base:?} -> {head:?}");
        }
    }

    #[test]
    fn stages_come_from_environments_then_tier1_order() {
        let envs: Vec<String> = ["dev", "staging", "prod"].map(String::from).to_vec();
        let order: Vec<String> = ["platform/dev", "platform/prod/"]
            .map(String::from)
            .to_vec();
        let cases = [
            (pin(Some("staging"), "web", "1"), Some((1, "staging"))),
            (pin(Some("qa"), "web", "1"), None),
            (
                tf("platform/dev/main.tf", "cm", "1"),
                Some((0, "platform/dev")),
            ),
            (
                tf("platform/prod/main.tf", "cm", "1"),
                Some((1, "platform/prod")),
            ),
            (tf("platform/production/main.tf", "cm", "1"), None),
            (tf("other/main.tf", "cm", "1"), None),
            (pin(None, "web", "1"), None),
        ];
        for (p, want) in cases {
            let got = stage(&p, &envs, &order);
            assert_eq!(
                got,
                want.map(|(i, s)| (i, s.to_owned())),
                "{} {:?}",
                p.file,
                p.env
            );
        }
    }

    #[test]
    fn the_earlier_stage_is_the_nearest_one_that_deploys_the_chart() {
        let envs: Vec<String> = ["dev", "staging", "prod"].map(String::from).to_vec();
        let dev = pin(Some("dev"), "web", "1.2.0");
        let staging = pin(Some("staging"), "web", "1.1.0");
        let other = pin(Some("staging"), "db", "9.0.0");
        let prod = pin(Some("prod"), "web", "1.2.0");
        let all = [&dev, &staging, &other, &prod];
        let (name, list) = earlier_stage(&prod, &all, &envs, &[]).unwrap();
        assert_eq!((name.as_str(), list), ("staging", vec![&staging]));
        let (name, _) = earlier_stage(&prod, &[&dev, &prod], &envs, &[]).unwrap();
        assert_eq!(name, "dev", "no staging pin: dev is the one before");
        assert!(
            earlier_stage(&dev, &all, &envs, &[]).is_none(),
            "dev is first"
        );
        assert!(earlier_stage(&prod, &[&other], &envs, &[]).is_none());
    }
}
