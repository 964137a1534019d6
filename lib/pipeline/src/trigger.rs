//! Would a git push start the pipeline? A pure reading of a V2 declaration's triggers, the way
//! CodePipeline documents them, so tests can check what mkpipeline declares (and what CodePipeline
//! or its emulator hands back) without pushing anything.
//!
//! What the AWS documentation says, and what this follows:
//! - "When a trigger configuration is specified, default change detection for repository and
//!   branch commits is disabled" (API reference, PipelineTriggerDeclaration). Without a trigger
//!   for the source action, the action's own `DetectChanges` (default true) starts the pipeline on
//!   pushes to its `BranchName`; a trigger with no filter does the same ("No filter: starts your
//!   pipeline on any push to the default branch specified as part of action configuration",
//!   User Guide, "Automate starting pipelines using triggers and filtering").
//! - Push filters: "These events use an OR operation between different push filters and an AND
//!   operation inside filters" (User Guide, "Trigger filtering in the pipeline JSON (CLI)"). Valid
//!   push filters are tags, branches, or branches + file paths; a tags filter is about tag pushes,
//!   so it never matches a branch push.
//! - Excludes take priority over includes, for branches and for file paths (CDK `GitPushFilter`:
//!   "The branchesExcludes takes priority over the branchesIncludes", and likewise for
//!   filePaths); at most 8 patterns per list (API reference, GitFilePathFilterCriteria).
//! - With file paths, the push starts the pipeline when at least one changed file is included
//!   and not excluded.
//! - Glob patterns (User Guide, "Working with glob patterns in syntax"): `*` is zero or more
//!   characters of a name component within directory boundaries, `**` zero or more characters
//!   crossing directory boundaries, `?` one character of a name component, `[ ]` one character
//!   out of a set (`!` negates, `a-z` ranges; inside, `*`, `?` and `\` match themselves), `{a,b}`
//!   a group of subpatterns (not nested), `\` escapes. The whole path must match. Read literally,
//!   `**` is characters and not directories: `**/README.md` needs a `/` and so does not match a
//!   `README.md` at the root; mkpipeline's own patterns (`app/**`, `buildspec.yml`, ...) do not
//!   depend on that corner.

use aws_sdk_codepipeline::types::{
    GitBranchFilterCriteria, GitFilePathFilterCriteria, GitPushFilter, PipelineDeclaration,
};

/// Whether a push of `changed` files (paths from the repository root) to `branch` starts the
/// pipeline through its source action `source_action`.
pub fn starts(declaration: &PipelineDeclaration, source_action: &str, branch: &str, changed: &[&str]) -> bool {
    let Some(action) = declaration.stages().iter().flat_map(|s| s.actions()).find(|a| a.name() == source_action) else {
        return false;
    };
    let config = |key: &str| action.configuration().and_then(|c| c.get(key)).map(String::as_str);
    let default_branch = config("BranchName") == Some(branch);
    let gits: Vec<_> = declaration
        .triggers()
        .iter()
        .filter_map(|t| t.git_configuration())
        .filter(|g| g.source_action_name() == source_action)
        .collect();
    if gits.is_empty() {
        return default_branch && !config("DetectChanges").is_some_and(|d| d.eq_ignore_ascii_case("false"));
    }
    gits.iter().any(|g| {
        if g.push().is_empty() {
            // A trigger without push filters: "no filter" when it has no pull request filters
            // either, else a pull-request-only trigger, which no push starts.
            return g.pull_request().is_empty() && default_branch;
        }
        g.push().iter().any(|f| push_filter_starts(f, branch, changed))
    })
}

fn push_filter_starts(filter: &GitPushFilter, branch: &str, changed: &[&str]) -> bool {
    if filter.tags().is_some() {
        return false;
    }
    let Some(branches) = filter.branches() else { return false };
    if !branch_passes(branches, branch) {
        return false;
    }
    match filter.file_paths() {
        None => true,
        Some(paths) => changed.iter().any(|file| path_passes(paths, file)),
    }
}

fn passes(includes: &[String], excludes: &[String], text: &str) -> bool {
    (includes.is_empty() || includes.iter().any(|p| glob_matches(p, text)))
        && !excludes.iter().any(|p| glob_matches(p, text))
}

fn branch_passes(c: &GitBranchFilterCriteria, branch: &str) -> bool {
    passes(c.includes(), c.excludes(), branch)
}

fn path_passes(c: &GitFilePathFilterCriteria, file: &str) -> bool {
    passes(c.includes(), c.excludes(), file)
}

/// Whether the whole of `text` matches the glob `pattern` (the rules in the module's comment).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    alternatives(pattern).iter().any(|p| matches(&tokens(p), &text))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `*`: within one name component.
    Star,
    /// `**`: across components.
    Stars,
    /// `?`: one character of a name component.
    One,
    /// `[...]`: one character of a name component out of a set.
    Set {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// The patterns a `{a,b}` group stands for, the group replaced by each subpattern in turn.
fn alternatives(pattern: &str) -> Vec<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut open = None;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' if open.is_none() => open = Some(i),
            '}' if open.is_some() => {
                let start = open.unwrap_or_default();
                let head: String = chars[..start].iter().collect();
                let tail: String = chars[i + 1..].iter().collect();
                let mut subs = Vec::new();
                let mut current = String::new();
                let mut j = start + 1;
                while j < i {
                    match chars[j] {
                        '\\' if j + 1 < i => {
                            current.extend([chars[j], chars[j + 1]]);
                            j += 1;
                        }
                        ',' => subs.push(std::mem::take(&mut current)),
                        c => current.push(c),
                    }
                    j += 1;
                }
                subs.push(current);
                return subs.iter().flat_map(|sub| alternatives(&format!("{head}{sub}{tail}"))).collect();
            }
            _ => {}
        }
        i += 1;
    }
    vec![pattern.to_owned()]
}

fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(Token::Char(chars[i + 1]));
                i += 1;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push(Token::Stars);
                i += 1;
            }
            '*' => out.push(Token::Star),
            '?' => out.push(Token::One),
            '[' => match set(&chars[i + 1..]) {
                Some((token, used)) => {
                    out.push(token);
                    i += used;
                }
                None => out.push(Token::Char('[')),
            },
            c => out.push(Token::Char(c)),
        }
        i += 1;
    }
    out
}

/// The set after a `[`, and how many characters it used up to and with its `]`; None without one.
fn set(chars: &[char]) -> Option<(Token, usize)> {
    let negated = chars.first() == Some(&'!');
    let mut i = usize::from(negated);
    let first = i;
    let mut ranges = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c == ']' && i > first {
            return Some((Token::Set { negated, ranges }, i + 1));
        }
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
            ranges.push((c, chars[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

fn matches(tokens: &[Token], text: &[char]) -> bool {
    let Some((token, rest)) = tokens.split_first() else { return text.is_empty() };
    match token {
        Token::Stars => (0..=text.len()).any(|i| matches(rest, &text[i..])),
        Token::Star => {
            let component = text.iter().position(|&c| c == '/').unwrap_or(text.len());
            (0..=component).any(|i| matches(rest, &text[i..]))
        }
        Token::One => text.first().is_some_and(|&c| c != '/') && matches(rest, &text[1..]),
        Token::Set { negated, ranges } => {
            text.first().is_some_and(|&c| c != '/' && ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                && matches(rest, &text[1..])
        }
        Token::Char(c) => text.first() == Some(c) && matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_codepipeline::types::{
        ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, GitConfiguration, GitTagFilterCriteria,
        PipelineTriggerDeclaration, PipelineTriggerProviderType, StageDeclaration,
    };

    use super::*;

    #[test]
    fn globs_follow_the_documented_rules() {
        for (pattern, text, expected) in [
            ("app/**", "app/comments/api.py", true),
            ("app/**", "app/x", true),
            ("app/**", "apps/x", false),
            ("app/**", "deploy/app/x", false),
            ("app/*", "app/x.py", true),
            ("app/*", "app/comments/api.py", false),
            ("buildspec.yml", "buildspec.yml", true),
            ("buildspec.yml", "ci/buildspec.yml", false),
            ("buildspec.yml", "buildspecXyml", false),
            ("*.java", "Foo.java", true),
            ("*.java", "src/Foo.java", false),
            ("**/*.java", "src/a/Foo.java", true),
            ("**/README.md", "README.md", false),
            ("**/README.md", "docs/README.md", true),
            ("**", "anything/at/all", true),
            ("*.{java,class}", "A.class", true),
            ("*.{java,class}", "A.py", false),
            ("foo.?", "foo.c", true),
            ("foo.?", "foo.cc", false),
            ("foo.?", "foo./", false),
            ("[abc].txt", "b.txt", true),
            ("[!abc].txt", "b.txt", false),
            ("[a-c].txt", "c.txt", true),
            ("[-a].txt", "-.txt", true),
            ("[*].txt", "*.txt", true),
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            ("[unclosed", "[unclosed", true),
            ("main", "main", true),
            ("main", "main2", false),
            ("release/*", "release/1.0", true),
            ("release/*", "release/1/hotfix", false),
            ("feature/**", "feature/a/b", true),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    fn declaration(triggers: Vec<PipelineTriggerDeclaration>) -> PipelineDeclaration {
        let source = ActionDeclaration::builder()
            .name("Source")
            .action_type_id(
                ActionTypeId::builder()
                    .category(ActionCategory::Source)
                    .owner(ActionOwner::Aws)
                    .provider("CodeStarSourceConnection")
                    .version("1")
                    .build()
                    .unwrap(),
            )
            .configuration("BranchName", "main")
            .configuration("DetectChanges", "true")
            .build()
            .unwrap();
        PipelineDeclaration::builder()
            .name("p")
            .role_arn("arn:aws:iam::123456789012:role/r")
            .stages(StageDeclaration::builder().name("Source").actions(source).build().unwrap())
            .set_triggers(Some(triggers))
            .build()
            .unwrap()
    }

    fn trigger(push: Vec<GitPushFilter>) -> PipelineTriggerDeclaration {
        PipelineTriggerDeclaration::builder()
            .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
            .git_configuration(
                GitConfiguration::builder().source_action_name("Source").set_push(Some(push)).build().unwrap(),
            )
            .build()
            .unwrap()
    }

    fn filter(branches: &[&str], excluded_branches: &[&str], paths: &[&str], excluded_paths: &[&str]) -> GitPushFilter {
        let list = |l: &[&str]| (!l.is_empty()).then(|| l.iter().map(|s| s.to_string()).collect());
        let file_paths = (!paths.is_empty() || !excluded_paths.is_empty()).then(|| {
            GitFilePathFilterCriteria::builder().set_includes(list(paths)).set_excludes(list(excluded_paths)).build()
        });
        GitPushFilter::builder()
            .branches(
                GitBranchFilterCriteria::builder()
                    .set_includes(list(branches))
                    .set_excludes(list(excluded_branches))
                    .build(),
            )
            .set_file_paths(file_paths)
            .build()
    }

    #[test]
    fn without_a_trigger_the_action_follows_its_branch_unless_told_not_to() {
        let d = declaration(vec![]);
        assert!(starts(&d, "Source", "main", &["README.md"]));
        assert!(!starts(&d, "Source", "gitops", &["app/x.py"]));
        assert!(!starts(&d, "Other", "main", &["app/x.py"]));
        let mut quiet = d.clone();
        for stage in &mut quiet.stages {
            for action in stage.actions.iter_mut() {
                action.configuration.as_mut().unwrap().insert("DetectChanges".into(), "false".into());
            }
        }
        assert!(!starts(&quiet, "Source", "main", &["app/x.py"]));
        // A trigger without filters: pushes to the action's branch, whatever they change.
        let unfiltered = declaration(vec![trigger(vec![])]);
        assert!(starts(&unfiltered, "Source", "main", &["README.md"]));
        assert!(!starts(&unfiltered, "Source", "gitops", &["README.md"]));
    }

    #[test]
    fn branches_and_file_paths_and_excludes_win() {
        let d = declaration(vec![trigger(vec![filter(
            &["main", "release/*"],
            &["release/old"],
            &["app/**", "buildspec.yml"],
            &["app/**/*.md"],
        )])]);
        assert!(starts(&d, "Source", "main", &["app/comments/api.py"]));
        assert!(starts(&d, "Source", "main", &["README.md", "buildspec.yml"]), "one matching file is enough");
        assert!(!starts(&d, "Source", "main", &["README.md"]));
        assert!(!starts(&d, "Source", "main", &[]), "no file changed, nothing matches");
        assert!(!starts(&d, "Source", "main", &["app/comments/README.md"]), "an excluded file does not count");
        assert!(starts(&d, "Source", "main", &["app/comments/README.md", "app/x.py"]));
        assert!(starts(&d, "Source", "release/1", &["app/x.py"]));
        assert!(!starts(&d, "Source", "release/old", &["app/x.py"]), "the branch exclude wins");
        assert!(!starts(&d, "Source", "gitops", &["app/x.py"]));
        assert!(!starts(&d, "Source", "gitops", &["deploy/environments/dev/kustomization.yaml"]));
        assert!(!starts(&d, "Other", "main", &["app/x.py"]));
    }

    #[test]
    fn filters_are_ored_and_tag_filters_ignore_branch_pushes() {
        let tags = GitPushFilter::builder().tags(GitTagFilterCriteria::builder().includes("v*").build()).build();
        let d = declaration(vec![trigger(vec![
            tags.clone(),
            filter(&["main"], &[], &["app/**"], &[]),
            filter(&["docs"], &[], &[], &[]),
        ])]);
        assert!(starts(&d, "Source", "main", &["app/x.py"]));
        assert!(!starts(&d, "Source", "main", &["README.md"]));
        assert!(starts(&d, "Source", "docs", &["README.md"]), "no file paths: any change on the branch");
        assert!(!starts(&declaration(vec![trigger(vec![tags])]), "Source", "main", &["app/x.py"]));
        // Excludes only: every branch but those.
        let d = declaration(vec![trigger(vec![filter(&[], &["gitops*"], &[], &[])])]);
        assert!(starts(&d, "Source", "feature", &["x"]));
        assert!(!starts(&d, "Source", "gitops-prod", &["x"]));
    }
}
