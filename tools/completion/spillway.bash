# SPDX-License-Identifier: GPL-2.0-only
# bash completion for spillway(8).

# Offer the words of $1 that start with the word being completed ($cur of _spillway). mapfile,
# not COMPREPLY=($(...)): the list is split on lines only, never globbed.
_spillway_offer()
{
	mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

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
		_spillway_offer "tcp udp"
		return
		;;
	--mode)
		_spillway_offer "xdp xdp-generic tc"
		return
		;;
	--interval | --for | --count | --dscp | --local | --shed)
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		_spillway_offer "status top explain rules policy report attach detach
			config reload version help --pin-root --state-dir --config --verbose --help"
		return
	fi

	case $cmd in
	st*) _spillway_offer "--json --interval --help" ;;
	t*) _spillway_offer "--interval --count --help" ;;
	e*) _spillway_offer "--proto --local --dscp --json --help" ;;
	ru*)
		if [[ -z $sub ]]; then
			_spillway_offer "list add del --help"
		elif [[ $sub == a* && $nargs -eq 1 ]]; then
			_spillway_offer "critical standard sheddable"
		elif [[ $sub == l* ]]; then
			_spillway_offer "--json"
		fi
		;;
	p*)
		if [[ -z $sub ]]; then
			_spillway_offer "set clear dry-run --help"
		elif [[ $sub == s* ]]; then
			_spillway_offer "--shed --for"
		elif [[ $sub == d* && $nargs -eq 1 ]]; then
			_spillway_offer "on off"
		elif [[ $sub == d* ]]; then
			_spillway_offer "--for"
		fi
		;;
	rel*) _spillway_offer "--dry-run --help" ;;
	rep*)
		if [[ -z $sub ]]; then
			_spillway_offer "pool queue --socket --config"
		elif [[ $sub == p* && $nargs -ge 1 ]]; then
			compopt -o nospace
			_spillway_offer "in_use= capacity= waiting= wait_ms="
		elif [[ $sub == q* && $nargs -ge 1 ]]; then
			compopt -o nospace
			_spillway_offer "depth= limit= age_ms="
		fi
		;;
	a*)
		if [[ $cur == -* ]]; then
			_spillway_offer "--mode --help"
		else
			_spillway_offer "$(ls /sys/class/net 2>/dev/null)"
		fi
		;;
	d*)
		if [[ $cur == -* ]]; then
			_spillway_offer "--all --yes --help"
		else
			_spillway_offer "$(ls /sys/class/net 2>/dev/null)"
		fi
		;;
	c*)
		if [[ -z $sub ]]; then
			_spillway_offer "check diff"
		else
			_filedir 'y?(a)ml'
		fi
		;;
	h*) _spillway_offer "status top explain rules policy report attach detach
			config reload version" ;;
	esac
} && complete -F _spillway spillway
