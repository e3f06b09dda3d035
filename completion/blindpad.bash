# bash completion for blindpad(1).  Source it, or install it as
# /usr/share/bash-completion/completions/blindpad.
_blindpad() {
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="register login passwd ls rm mail contacts upload download new cat append edit watch share owners access link-info whoami logout help"
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
        mail)
            local sub=${COMP_WORDS[i+1]}
            if ((COMP_CWORD == i + 1)); then
                COMPREPLY=($(compgen -W "send read" -- "$cur"))
            elif [[ $sub == read ]]; then
                COMPREPLY=($(compgen -W "--all --delete $globals" -- "$cur"))
            fi
            return ;;
        contacts)
            if ((COMP_CWORD == i + 1)); then
                COMPREPLY=($(compgen -W "list add accept decline rm" -- "$cur"))
            fi
            return ;;
        upload)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--owned --unowned --name --type --password $globals" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi ;;
        download)
            COMPREPLY=($(compgen -W "-o --output --force --password --limit-rate $globals" -- "$cur")) ;;
        share)
            COMPREPLY=($(compgen -W "--view --password $globals" -- "$cur")) ;;
        new)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--password --expire --owned --unowned --burn --title --mode $globals" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "code markdown slide" -- "$cur"))
            fi ;;
        cat)
            COMPREPLY=($(compgen -W "--raw --password --burn $globals" -- "$cur")) ;;
        append)
            COMPREPLY=($(compgen -W "--no-newline --password $globals" -- "$cur")) ;;
        edit)
            COMPREPLY=($(compgen -W "--password $globals" -- "$cur")) ;;
        watch)
            COMPREPLY=($(compgen -W "--count --timeout --password $globals" -- "$cur")) ;;
        link-info)
            COMPREPLY=($(compgen -W "--show-keys $globals" -- "$cur")) ;;
        owners|access)
            # blindpad owners LINK add|remove|accept KEY..., access LINK restrict|allow|deny
            local n=0 j
            for ((j = i + 1; j < COMP_CWORD; j++)); do
                [[ ${COMP_WORDS[j]} == -* ]] || ((n++))
            done
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--password --pending --force $globals" -- "$cur"))
            elif ((n == 1)) && [[ $cmd == owners ]]; then
                COMPREPLY=($(compgen -W "add remove accept" -- "$cur"))
            elif ((n == 1)); then
                COMPREPLY=($(compgen -W "restrict allow deny" -- "$cur"))
            elif [[ $prev == restrict ]]; then
                COMPREPLY=($(compgen -W "on off" -- "$cur"))
            elif ((n >= 2)); then
                COMPREPLY=($(compgen -W "me" -- "$cur"))
            fi ;;
        help)
            COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        *)
            COMPREPLY=($(compgen -W "$globals" -- "$cur")) ;;
    esac
}
complete -o default -F _blindpad blindpad
