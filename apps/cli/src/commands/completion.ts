import type { Command, Option } from 'commander';
import { type RegisterCommand } from '../command';
import { ExitCode } from '../exit-codes';
import { UsageError } from '../options';
import { failWith } from '../server-flags';
import { COMMANDS, summaryOf } from './registry';

/** A command as completion sees it: its words (subcommands) and its flags. */
interface Completable {
  name: string;
  summary: string;
  subcommands: string[];
  flags: Array<{ flag: string; help: string; takesValue: boolean }>;
}

function flagsOf(options: readonly Option[]): Completable['flags'] {
  return options.map((o) => ({ flag: o.long ?? o.short ?? '', help: o.description, takesValue: o.required || o.optional })).filter((f) => f.flag);
}

/** Every registered command with its flags, read from the commands' own definitions (all are loaded here). */
async function completables(root: Command): Promise<Completable[]> {
  const out: Completable[] = [];
  for (const entry of COMMANDS) {
    const program = root.createCommand('triage');
    (await entry.load())(program);
    const command = program.commands.find((c) => c.name() === entry.name);
    if (!command) continue;
    const subFlags = command.commands.flatMap((c) => flagsOf(c.options));
    const seen = new Set<string>();
    const flags = [...flagsOf(command.options), ...subFlags].filter((f) => !seen.has(f.flag) && seen.add(f.flag));
    out.push({ name: entry.name, summary: entry.summary, subcommands: command.commands.map((c) => c.name()), flags });
  }
  return out;
}

const shellWord = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '');

export function bashScript(commands: Completable[]): string {
  const cases = commands
    .map((c) => `    ${shellWord(c.name)}) words="${[...c.subcommands, ...c.flags.map((f) => f.flag)].map(shellWord).join(' ')} --help";;`)
    .join('\n');
  return `# triage completion for bash: source <(triage completion bash)
_triage() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${commands.map((c) => shellWord(c.name)).join(' ')} help --help --version" -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) words="";;
  esac
  if [[ "$cur" == -* || ( "$COMP_CWORD" -eq 2 && -n "$words" && "$words" != --* ) ]]; then
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
  else
    COMPREPLY=( $(compgen -f -- "$cur") )
  fi
}
complete -o filenames -o bashdefault -F _triage triage
`;
}

/** Text inside a zsh single-quoted _arguments/_describe spec: no quotes, colons or brackets. */
const zshText = (s: string) => s.replace(/['\\[\]:]/g, ' ').replace(/\s+/g, ' ').trim();

export function zshScript(commands: Completable[]): string {
  const described = commands.map((c) => `    '${shellWord(c.name)}:${zshText(c.summary)}'`).join('\n');
  const cases = commands
    .map((c) => {
      const specs = c.flags.map((f) => `'${f.flag}[${zshText(f.help)}]${f.takesValue ? ':value:' : ''}'`);
      const subs = c.subcommands.length > 0 ? ` '1:subcommand:(${c.subcommands.map(shellWord).join(' ')})'` : '';
      return `    ${shellWord(c.name)}) _arguments ${[...specs, subs.trim(), "'*:file:_files'"].filter(Boolean).join(' ')} ;;`;
    })
    .join('\n');
  return `#compdef triage
# triage completion for zsh: source <(triage completion zsh), or save as _triage in a directory on $fpath
_triage() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'triage command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases}
    *) _files ;;
  esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _triage "$@"
else
  compdef _triage triage
fi
`;
}

export const registerCompletion: RegisterCommand = (program: Command) => {
  program
    .command('completion')
    .description(summaryOf('completion'))
    .argument('<shell>', 'bash or zsh')
    .action(async (shell: string) => {
      try {
        if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion scripts exist for bash and zsh, not '${shell}'`);
        const commands = await completables(program);
        process.stdout.write(shell === 'bash' ? bashScript(commands) : zshScript(commands));
        process.exitCode = ExitCode.ok;
      } catch (err) {
        failWith(err);
      }
    });
};
