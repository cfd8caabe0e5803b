//! Values from data, made safe for where they are shown: Slack's mrkdwn
//! (where `<!channel>` pings everyone and `<https://x|Click>` is a link) and
//! the shell (where a pasted suggestion must stay one command). Every
//! message builder wraps each value it did not write itself in
//! [`Mrkdwn`]; every suggested command is built by [`command`].

use std::fmt;

/// Displays text with Slack's three control characters escaped (`&`, `<`,
/// `>`), as Slack asks of any text that is not meant as markup:
/// <https://api.slack.com/reference/surfaces/formatting#escaping>.
/// Mentions, links and dates all start with `<`, so nothing in the value
/// can become one.
#[derive(Debug, Clone, Copy)]
pub struct Mrkdwn<'a>(pub &'a str);

impl fmt::Display for Mrkdwn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                _ => "&gt;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// Characters a word may hold and stay one word, unquoted, in every shell.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c)
}

/// One argument as the shell reads it back unchanged: as is when every
/// character is plain, else in single quotes (`'` as `'\''`). An argument
/// with a backtick or a control character is written in `$'...'` quotes
/// with those escaped as `\xNN`, so the command holds no backtick (it
/// stays inside a Slack code span, which a backtick would end) and no line
/// break (which would end the command when pasted). `$'...'` is POSIX
/// since 2024 and in bash, zsh and ksh.
pub fn shell_word(arg: &str) -> String {
    if !arg.is_empty() && arg.chars().all(is_plain) {
        return arg.to_owned();
    }
    if !arg.chars().any(|c| c == '`' || c.is_control()) {
        return format!("'{}'", arg.replace('\'', r"'\''"));
    }
    let mut out = String::from("$'");
    for c in arg.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\'' => out.push_str(r"\'"),
            c if c == '`' || (c.is_control() && c.is_ascii()) => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A command line: the program's words as written, each argument quoted
/// with [`shell_word`].
pub fn command(program: &str, args: &[&str]) -> String {
    let mut line = program.to_owned();
    for a in args {
        line.push(' ');
        line.push_str(&shell_word(a));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_and_links_in_a_value_are_shown_as_text() {
        let shown = Mrkdwn("<!channel> <https://x|Click> & co").to_string();
        assert_eq!(shown, "&lt;!channel&gt; &lt;https://x|Click&gt; &amp; co");
    }

    #[test]
    fn plain_words_stay_unquoted() {
        assert_eq!(
            command("landfall file", &["s3://landing/crm/2026-12-01.csv"]),
            "landfall file s3://landing/crm/2026-12-01.csv"
        );
    }

    #[test]
    fn a_semicolon_or_space_is_single_quoted_and_a_quote_closed_and_reopened() {
        assert_eq!(shell_word("a; rm -rf ~"), "'a; rm -rf ~'");
        assert_eq!(shell_word("o'brien $(x)"), r"'o'\''brien $(x)'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn a_backtick_or_line_break_is_written_as_an_escape_so_the_command_has_neither() {
        let w = shell_word("a`id`;\nb'\\");
        assert_eq!(w, r"$'a\x60id\x60;\x0ab\'\\'");
        assert!(!w.contains('`') && !w.contains('\n'));
    }

    /// What a shell makes of the word is the argument itself.
    #[test]
    fn the_shell_reads_every_quoted_word_back_as_the_argument() {
        let args = ["plain", "a; rm -rf ~", "o'brien", "a`id`b", "x\ny\tz", "$(touch /tmp/x) \\ '\"", "ünï"];
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf '%s\\0' {}", args.map(shell_word).join(" ")))
            .output()
            .expect("bash runs");
        let back: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into())
            .collect();
        assert_eq!(back, args);
    }
}
