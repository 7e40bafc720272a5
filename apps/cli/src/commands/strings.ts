import type { Command } from 'commander';
import { withCoreInput } from '@triage/analysis';
import { extractStrings, grepStrings, type FoundString, type GrepHit } from '@triage/memory';
import { ExitCode, exitWithFailure, type RegisterCommand } from '../command';
import { summaryOf } from './registry';
import { UsageError, positiveInteger, requireFile } from '../options';
import { writeOut } from '../output';

interface StringsFlags {
  writable?: boolean;
  min: string;
  grep?: string;
  around: string;
  config?: boolean;
  minLines: string;
  maps?: string;
  json?: boolean;
}

export const registerStrings: RegisterCommand = (program: Command) => {
  program
    .command('strings')
    .description(summaryOf('strings'))
    .argument('<core>', 'the core file, compressed core, abrt dump directory or tarball')
    .option('--writable', 'only writable mappings: what the process read or built at run time')
    .option('--min <n>', 'shortest string shown', '6')
    .option('--grep <regex>', 'only strings matching this regular expression')
    .option('--around <n>', 'with --grep: neighbouring strings shown before and after each match', '0')
    .option('--config', 'config text read into memory, as blocks cut at the edges of the config (see README)')
    .option('--min-lines <n>', 'with --config: fewest settings or sections in a block', '3')
    .option('--maps <file>', 'a /proc/PID/maps file, for cores without an NT_FILE note')
    .option('--json', 'one JSON object per line: address, region, text')
    .action(async (corePath: string, flags: StringsFlags) => {
      try {
        requireFile('--maps', flags.maps);
        const minLength = positiveInteger('--min', flags.min);
        const minLines = positiveInteger('--min-lines', flags.minLines);
        const around = positiveInteger('--around', flags.around, { allowZero: true });
        const pattern = flags.grep === undefined ? undefined : regex(flags.grep);
        await withCoreInput(corePath, { mapsPath: flags.maps }, async (core) => {
          const found = extractStrings(core, { writableOnly: flags.writable, minLength, blocks: flags.config, minLines });
          const shown: AsyncIterable<FoundString | GrepHit> = pattern ? grepStrings(found, { pattern, around }) : found;
          for await (const s of shown) writeOut(flags.json ? jsonLine(s) : textLine(s, flags.config ?? false));
        });
        process.exitCode = ExitCode.ok;
      } catch (err) {
        exitWithFailure(err);
      }
    });
};

function regex(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new UsageError(`--grep: not a regular expression: ${(err as Error).message}`);
  }
}

const hex = (a: bigint) => `0x${a.toString(16).padStart(12, '0')}`;

function textLine(s: FoundString | GrepHit, blocks: boolean): string {
  const mark = 'match' in s && !s.match ? '-' : ' ';
  if (blocks) return `== ${hex(s.address)} ${s.region.label} (${s.text.split('\n').length} lines)\n${s.text}\n\n`;
  return `${hex(s.address)}${mark} ${s.region.label}  ${JSON.stringify(s.text).slice(1, -1)}\n`;
}

function jsonLine(s: FoundString | GrepHit): string {
  return `${JSON.stringify({
    address: hex(s.address),
    region: s.region.label,
    regionKind: s.region.kind,
    writable: s.region.writable,
    ...('match' in s ? { match: s.match } : {}),
    text: s.text,
  })}\n`;
}
