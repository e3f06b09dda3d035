# bash completion for blindpad(1).  Source it, or install it as
# /usr/share/bash-completion/completions/blindpad.
_blindpad() {
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="register login passwd ls rm upload download new cat append edit watch share link-info whoami logout help"
    local globals="--server --json --no-progress --quiet --help --version"

    # the command is the first word that is not a global option (or its argument)
    cmd=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --server) ((i++)) ;;
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
        --server) COMPREPLY=($(compgen -W "http://127.0.0.1:3000" -- "$cur")); return ;;
        -o|--output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --type) COMPREPLY=($(compgen -W "text/plain application/pdf application/octet-stream image/png image/jpeg" -- "$cur")); return ;;
        --name|--limit-rate) return ;;
    esac

    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi
    case $cmd in
        upload)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--owned --name --type --password $globals" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        download)
            COMPREPLY=($(compgen -W "-o --output --force --password --limit-rate $globals" -- "$cur")) ;;
        share)
            COMPREPLY=($(compgen -W "--view --password $globals" -- "$cur")) ;;
        new)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--password --expire --owned --title --mode $globals" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "code markdown slide" -- "$cur"))
            fi ;;
        cat)
            COMPREPLY=($(compgen -W "--raw --password $globals" -- "$cur")) ;;
        append)
            COMPREPLY=($(compgen -W "--no-newline --password $globals" -- "$cur")) ;;
        edit)
            COMPREPLY=($(compgen -W "--password $globals" -- "$cur")) ;;
        watch)
            COMPREPLY=($(compgen -W "--count --timeout --password $globals" -- "$cur")) ;;
        link-info)
            COMPREPLY=($(compgen -W "--show-keys $globals" -- "$cur")) ;;
        help)
            COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        *)
            COMPREPLY=($(compgen -W "$globals" -- "$cur")) ;;
    esac
}
complete -o default -F _blindpad blindpad
