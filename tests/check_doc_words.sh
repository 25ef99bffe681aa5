#!/bin/sh
# check_doc_words.sh SRCDIR - the project speaks of what it is, not of how it
# was made: fails when a tracked file names a work session, a tracker item or
# a temporary state.  History belongs in git log and
# CHANGELOG.md, which is held to the same rule.  The patterns are spelled
# with brackets so that this file does not match itself.
# Exit 77 (skipped) outside a git checkout or without git.
cd "${1:-.}" || exit 1
command -v git >/dev/null 2>&1 || { echo "SKIP: git not installed"; exit 77; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    { echo "SKIP: $(pwd) is not a git checkout"; exit 77; }
pattern='sessio[n] [0-9]|issu[e] [0-9]|issu[e]'"'"'s|later issu[e]|for no[w]([^a-z]|$)'
hits=$(git grep -nIiE "$pattern" -- . 2>/dev/null)
if [ -n "$hits" ]; then
    echo "tracked files speak of how the project was made (say what it does;"
    echo "history goes in commit messages):"
    printf "%s\n" "$hits"
    exit 1
fi
echo "no history words in $(git ls-files | wc -l) tracked files"
