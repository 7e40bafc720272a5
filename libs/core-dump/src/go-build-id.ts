/**
 * Go's internal linker (a plain `go build`) writes no GNU build-id, only Go's own build ID: a note
 * named "Go" of type 4 (.note.go.buildid), which it places in the first page of the text segment and
 * in a PT_NOTE, so the header page a core dumps holds it. triage keys such an object by an id derived
 * from that Go build ID: a domain-separated sha256, 64 hex digits, so it fits every place a build-id
 * goes (the .build-id trees, the store's keys, debuginfod URLs) and no honest GNU build-id (sha1: 40
 * digits, md5/uuid: 32, xxhash: 16) is ever equal to one. A file counts only when its own Go build ID
 * gives the same id, as a GNU build-id must be the file's own.
 */
import { createHash } from 'node:crypto';
import type { Note } from './elf';

/** Note type of Go's build ID (cmd/link: ELF_NOTE_GOBUILDID_TAG). */
export const NT_GO_BUILD_ID = 4;
/** Go build IDs are "actionID/contentID" (Go 1.10+), base64-ish text, 83 bytes for Go 1.19's. */
const GO_BUILD_ID = /^[\x21-\x7e]{1,256}$/;
const DOMAIN = 'triage: Go build ID\0';

/** The Go build ID text of a "Go" note, when the notes hold one. */
export function goBuildIdFromNotes(notes: Note[]): string | undefined {
  const note = notes.find((n) => n.type === NT_GO_BUILD_ID && n.name === 'Go');
  const text = note?.desc.toString('latin1').replace(/\0+$/, '');
  return text && GO_BUILD_ID.test(text) ? text : undefined;
}

/** The id triage files a Go-only object under (where a GNU build-id would go). */
export function goModuleId(goBuildId: string): string {
  return createHash('sha256').update(DOMAIN).update(goBuildId, 'latin1').digest('hex');
}
