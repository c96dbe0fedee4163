//! The reproduction as Markdown (also what the terminal shows).

use super::Summary;
use crate::text::escape_controls;

/// A Markdown table cell: pipes escaped, controls shown escaped, one line.
fn cell(s: &str) -> String {
    escape_controls(s).replace('|', "\\|").replace('\n', " ")
}

/// The summary as a Markdown table, one row per claim, then how each was decided.
pub fn markdown(s: &Summary) -> String {
    let held = s
        .claims
        .iter()
        .filter(|c| c.outcome == super::Outcome::Holds)
        .count();
    let mut out = format!(
        "## faultline reproduce {}{}: {held} of {} claims hold\n\nKernel: {}\n\n| claim | article | measured here | holds? |\n|---|---|---|---|\n",
        s.experiment,
        if s.quick { " --quick" } else { "" },
        s.claims.len(),
        cell(s.kernel.as_deref().unwrap_or("unknown"))
    );
    for c in &s.claims {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            cell(&c.claim),
            cell(&c.article),
            cell(&c.measured),
            c.outcome.label()
        ));
    }
    out.push_str("\nHow each was decided:\n\n");
    for c in &s.claims {
        out.push_str(&format!(
            "- `{}`: {} (runs: {})\n",
            c.id,
            cell(&c.how),
            c.runs.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reproduce::{Claim, Outcome};

    #[test]
    fn the_table_has_one_row_per_claim_and_escapes_pipes() {
        let s = Summary {
            experiment: "oomsday".into(),
            quick: true,
            kernel: Some("6.18".into()),
            claims: vec![Claim {
                id: "x".into(),
                claim: "a | b".into(),
                article: "1".into(),
                measured: "2".into(),
                outcome: Outcome::Inconclusive,
                how: "h".into(),
                runs: vec!["runs/01-x".into()],
            }],
        };
        let md = markdown(&s);
        assert!(md.starts_with("## faultline reproduce oomsday --quick: 0 of 1 claims hold"));
        assert!(md.contains("| a \\| b | 1 | 2 | inconclusive |"), "{md}");
        assert!(md.contains("- `x`: h (runs: runs/01-x)"));
    }
}
