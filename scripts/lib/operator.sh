# shellcheck shell=bash
# Shared by the operator scripts (backup.sh, restore.sh), which source it first: they act on
# the stack the user runs, taking the same docker compose options (-p, -f, --env-file,
# --project-directory; COMPOSE_PROJECT_NAME and COMPOSE_FILE work as for docker compose).

fail() { echo "$(basename "$0"): $*" >&2; exit 1; }
# The usage is the script's header comment.
usage() { sed -n '2,/^[^#]/{/^# shellcheck/d;/^#/s/^# \{0,1\}//p;}' "$0"; }

command -v docker >/dev/null || fail "needs docker, not found on this machine"

compose_options=()
compose() { docker compose "${compose_options[@]}" "$@"; }

# Reads the command line: compose options are kept for compose(), --help prints the usage,
# the switches the script names (e.g. --force) are collected in `switches`, and the one
# operand it requires (its name for messages first) ends up in `operand`.
#   read_arguments OUTPUT "--force" "$@"
read_arguments() {
  local operand_name=$1 allowed=$2
  shift 2
  operand=
  switches=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -p | --project-name | -f | --file | --env-file | --project-directory)
        [ $# -ge 2 ] || fail "$1 needs a value"
        compose_options+=("$1" "$2")
        shift
        ;;
      --project-name=* | --file=* | --env-file=* | --project-directory=*) compose_options+=("$1") ;;
      -h | --help) usage; exit 0 ;;
      -*)
        case " $allowed " in *" $1 "*) switches+=("$1") ;; *) fail "unknown option $1 (--help shows the usage)" ;; esac
        ;;
      *)
        [ -z "$operand" ] || fail "one $operand_name only, not both $operand and $1"
        operand=$1
        ;;
    esac
    shift
  done
  [ -n "$operand" ] || fail "name the $operand_name (--help shows the usage)"
}

# Runs a shell command in the mysql container as MySQL's root user: the password comes from
# the container's own secret file, never from a command line.
in_mysql() {
  compose exec -T mysql sh -c "MYSQL_PWD=\$(cat /run/secrets/polls/root_password) && export MYSQL_PWD && $1"
}
