//! Interactive mode (`-i`, or a terminal with no flags when the product's inventory entry says
//! `"interactive": true`): shows a person what the package would do to each component, lets them
//! pick which components to install, asks for confirmation, and only then lets the apply go on.
//!
//! Plain numbered prompts on the terminal, no screen control: it works in any console (Windows
//! cmd included), over ssh and in a serial console, and adds nothing to the stub's size but text.
//! A choice that breaks a `requires` is explained and asked again; end of input cancels. Nothing
//! is changed before the person confirms. Every line goes out escaped (`report::shown`): names,
//! versions and notes come from the package and the inventory.

use iupack_stub::apply::plan::{check_requires, Step};
use iupack_stub::apply::prompt::{Choice, Prompt};
use iupack_stub::apply::report::{human_bytes, shown};
use iupack_stub::apply::Interactive;
use iupack_stub::format::manifest::Manifest;
use iupack_stub::machine::inventory::Product;
use std::io::{BufRead, Write};

/// The person at this terminal: asked on stdout, answered on stdin.
#[derive(Debug)]
pub struct Terminal;

impl Prompt for Terminal {
    fn choose(
        &mut self,
        _: Interactive,
        steps: &mut [Step],
        product: &Product,
        manifest: &Manifest,
        signer: &str,
    ) -> iupack_stub::Result<Choice> {
        Ok(choose(
            steps,
            product,
            manifest,
            signer,
            &mut std::io::stdin().lock(),
            &mut std::io::stdout(),
        ))
    }
}

/// Shows the plan, asks which components to install and asks to confirm. Components left out
/// (all of them on `Cancel`) become `Action::Skipped` (`Step::skip`). I/O errors on the terminal cancel
/// (nothing has been changed).
pub fn choose(
    steps: &mut [Step],
    product: &Product,
    manifest: &Manifest,
    signer: &str,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Choice {
    let choice = ask(steps, product, manifest, signer, input, out).unwrap_or(Choice::Cancel);
    if choice == Choice::Cancel {
        for s in steps.iter_mut().filter(|s| s.install().is_some()) {
            s.skip(true);
        }
    }
    choice
}

fn ask(
    steps: &mut [Step],
    product: &Product,
    manifest: &Manifest,
    signer: &str,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> std::io::Result<Choice> {
    let offered: Vec<usize> = (0..steps.len())
        .filter(|&i| steps[i].install().is_some())
        .collect();
    show_plan(steps, &offered, product, manifest, signer, out)?;
    writeln!(out)?;
    let all: Vec<String> = (1..=offered.len()).map(|n| n.to_string()).collect();
    loop {
        put(
            out,
            &format!(
                "Install which? Enter = all ({}), numbers to pick (e.g. \"1\"), n = none: ",
                all.join(" ")
            ),
        )?;
        out.flush()?;
        let Some(line) = read_line(input)? else {
            writeln!(out)?;
            return Ok(Choice::Cancel);
        };
        let picked = match parse_pick(&line, offered.len()) {
            Ok(p) => p,
            Err(why) => {
                say(out, &format!("  {why}"))?;
                continue;
            }
        };
        if picked.is_empty() {
            say(out, "Nothing chosen; nothing was changed.")?;
            return Ok(Choice::Cancel);
        }
        for (n, &i) in offered.iter().enumerate() {
            steps[i].skip(!picked.contains(&(n + 1)));
        }
        if let Err(e) = check_requires(steps, product) {
            say(out, &format!("  {}", e.message))?;
            say(
                out,
                "  pick what it requires too, or leave it out and install it later.",
            )?;
            continue;
        }
        let chosen: Vec<String> = steps
            .iter()
            .filter(|s| s.install().is_some())
            .map(|s| {
                let r = s.report(false);
                format!(
                    "{} {} ({}, {})",
                    s.component.name,
                    s.component.version,
                    r.route.unwrap_or_default(),
                    human_bytes(r.bytes)
                )
            })
            .collect();
        put(out, &format!("Install {}? [y/N] ", chosen.join(", ")))?;
        out.flush()?;
        let answer = read_line(input)?.unwrap_or_default();
        return Ok(match answer.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => Choice::Proceed,
            _ => {
                say(out, "Cancelled; nothing was changed.")?;
                Choice::Cancel
            }
        });
    }
}

/// The plan as a table: each component with its number (when it can be picked), installed and
/// package version, route, size and `requires`, and why it is not offered.
fn show_plan(
    steps: &[Step],
    offered: &[usize],
    product: &Product,
    manifest: &Manifest,
    signer: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    say(
        out,
        &format!(
            "{} {} - package {}, signed by key {signer}",
            product.name.as_deref().unwrap_or(&product.id),
            product.version,
            manifest.package.id
        ),
    )?;
    writeln!(out)?;
    say(
        out,
        &format!(
            "  #  {:<14} {:<14}    {:<14} {:<24} {:>9}  requires",
            "component", "installed", "package", "route", "size"
        ),
    )?;
    for (i, s) in steps.iter().enumerate() {
        let r = s.report(false);
        let number = match offered.iter().position(|&o| o == i) {
            Some(n) => format!("{:>3}", n + 1),
            None => "  -".to_string(),
        };
        let installs = s.install().is_some();
        let route = if installs {
            r.route.unwrap_or_default()
        } else {
            s.action.name().to_string()
        };
        let requires: Vec<String> = s
            .component
            .requires
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let line = format!(
            "{number}  {:<14} {:<14} -> {:<14} {:<24} {:>9}  {}",
            s.component.name,
            r.from.as_deref().unwrap_or("(none)"),
            r.to,
            route,
            if installs {
                human_bytes(r.bytes)
            } else {
                String::new()
            },
            requires.join(", ")
        );
        say(out, line.trim_end())?;
        if let Some(note) = s.action.note() {
            say(out, &format!("     {note}"))?;
        }
    }
    Ok(())
}

/// Writes `text` for the person, escaped (`report::shown`: names and versions come from the
/// package and the inventory), then a line end.
fn say(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    writeln!(out, "{}", shown(text))
}

/// `say` without the line end (a prompt).
fn put(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    write!(out, "{}", shown(text))
}

/// One line of input without its end, or None at end of input.
fn read_line(input: &mut dyn BufRead) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
}

/// The numbers picked (1-based) from "" (all), "n"/"none" (none) or numbers separated by spaces
/// or commas.
fn parse_pick(line: &str, count: usize) -> Result<Vec<usize>, String> {
    let line = line.trim();
    match line.to_ascii_lowercase().as_str() {
        "" | "a" | "all" => return Ok((1..=count).collect()),
        "n" | "no" | "none" | "q" => return Ok(Vec::new()),
        _ => {}
    }
    let mut picked = Vec::new();
    for word in line.split([' ', ',']).filter(|w| !w.is_empty()) {
        match word.parse::<usize>() {
            Ok(n) if (1..=count).contains(&n) => {
                if !picked.contains(&n) {
                    picked.push(n)
                }
            }
            _ => {
                return Err(format!(
                    "`{word}` is not one of the numbers 1 to {count}; type numbers such as \"1 2\", Enter for all, or n for none"
                ))
            }
        }
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::parse_pick;

    #[test]
    fn picks_parse() {
        assert_eq!(parse_pick("", 3), Ok(vec![1, 2, 3]));
        assert_eq!(parse_pick(" all ", 2), Ok(vec![1, 2]));
        assert_eq!(parse_pick("n", 2), Ok(vec![]));
        assert_eq!(parse_pick("2", 3), Ok(vec![2]));
        assert_eq!(parse_pick("3, 1 3", 3), Ok(vec![3, 1]));
        for bad in ["0", "4", "x", "1-2", "-1"] {
            assert!(parse_pick(bad, 3).is_err(), "{bad}");
        }
    }
}
