# SPDX-License-Identifier: GPL-2.0-only
# bash completion for spillway(8).

_spillway()
{
	local cur prev words cword
	_init_completion || return

	local i cmd="" sub="" nargs=0
	# The command is the first word that is not a global option or its argument.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--pin-root | --state-dir | --config) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ -z $sub ]]; then
				sub=${words[i]}
			else
				((nargs++))
			fi
			;;
		esac
	done

	case $prev in
	--pin-root | --state-dir)
		_filedir -d
		return
		;;
	--config)
		_filedir 'y?(a)ml'
		return
		;;
	--proto)
		COMPREPLY=($(compgen -W "tcp udp" -- "$cur"))
		return
		;;
	--mode)
		COMPREPLY=($(compgen -W "xdp xdp-generic tc" -- "$cur"))
		return
		;;
	--interval | --for | --count | --dscp | --local | --shed)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "status top explain rules policy report attach detach
			config reload version help --pin-root --state-dir --config --verbose --help" \
			-- "$cur"))
		return
	fi

	case $cmd in
	st*) COMPREPLY=($(compgen -W "--json --interval --help" -- "$cur")) ;;
	t*) COMPREPLY=($(compgen -W "--interval --count --help" -- "$cur")) ;;
	e*) COMPREPLY=($(compgen -W "--proto --local --dscp --json --help" -- "$cur")) ;;
	ru*)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "list add del --help" -- "$cur"))
		elif [[ $sub == a* && $nargs -eq 1 ]]; then
			COMPREPLY=($(compgen -W "critical standard sheddable" -- "$cur"))
		elif [[ $sub == l* ]]; then
			COMPREPLY=($(compgen -W "--json" -- "$cur"))
		fi
		;;
	p*)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "set clear dry-run --help" -- "$cur"))
		elif [[ $sub == s* ]]; then
			COMPREPLY=($(compgen -W "--shed --for" -- "$cur"))
		elif [[ $sub == d* && $nargs -eq 1 ]]; then
			COMPREPLY=($(compgen -W "on off" -- "$cur"))
		elif [[ $sub == d* ]]; then
			COMPREPLY=($(compgen -W "--for" -- "$cur"))
		fi
		;;
	rel*) COMPREPLY=($(compgen -W "--dry-run --help" -- "$cur")) ;;
	rep*)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "pool queue --socket --config" -- "$cur"))
		elif [[ $sub == p* && $nargs -ge 1 ]]; then
			compopt -o nospace
			COMPREPLY=($(compgen -W "in_use= capacity= waiting= wait_ms=" -- "$cur"))
		elif [[ $sub == q* && $nargs -ge 1 ]]; then
			compopt -o nospace
			COMPREPLY=($(compgen -W "depth= limit= age_ms=" -- "$cur"))
		fi
		;;
	a*)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--mode --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
		fi
		;;
	d*)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--all --yes --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
		fi
		;;
	c*)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W "check diff" -- "$cur"))
		else
			_filedir 'y?(a)ml'
		fi
		;;
	h*) COMPREPLY=($(compgen -W "status top explain rules policy report attach detach
			config reload version" -- "$cur")) ;;
	esac
} && complete -F _spillway spillway
