/**
 * Version ordering against what dpkg and rpm answer. Cases come from dpkg's own test suite
 * (lib/dpkg/t/t-version.c, `dpkg --compare-versions`) and rpm's (tests/rpmvercmp.at); when dpkg or rpm
 * is installed on the machine, every pair is also asked of the real tool.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compareVersions, packageVersion, versionSchemeOf } from '@triage/problems';

/** [a, b, expected sign of compare(a, b)] */
const DEB: Array<[string, string, number]> = [
  ['1.0', '1.0', 0],
  ['1.0', '1.0-0', 0],
  ['1.0', '1.0-1', -1],
  ['1.0-1', '1.0-2', -1],
  ['1.0-10', '1.0-9', 1],
  ['1.10', '1.9', 1],
  ['1.010', '1.10', 0],
  ['0:1.0', '1.0', 0],
  ['1:1.0', '2.0', 1],
  ['2:0.1', '1:9.9', 1],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~~', '1.0~', -1],
  ['1.0~', '1.0', -1],
  ['1.0', '1.0a', -1],
  ['1.0a', '1.0+', -1],
  ['1.0+', '1.0.1', -1],
  ['1.0+1', '1.0.1', -1],
  ['1.2.3-1+deb12u1', '1.2.3-1', 1],
  ['1.2.3-1~bpo11+1', '1.2.3-1', -1],
  ['7.6p2-4', '7.6-0', 1],
  ['1.0-1ubuntu1', '1.0-1', 1],
  ['2.30-8', '2.30-10', -1],
  ['a', 'b', -1],
];

const RPM: Array<[string, string, number]> = [
  ['1.0', '1.0', 0],
  ['1.0', '2.0', -1],
  ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p10', -1],
  ['10xyz', '10.1xyz', -1],
  ['xyz10', 'xyz10.1', -1],
  ['1.0010', '1.9', 1],
  ['1.05', '1.5', 0],
  ['1.0', '1', 1],
  ['2.0', '2_0', 0],
  ['2.0', '2a', 1],
  ['a+', 'a_', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc1~git123', '1.0~rc1', -1],
  ['1.0^', '1.0', 1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git1', '1.01', -1],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0-1.fc38', '1.0-2.fc38', -1],
  ['1:1.0-1', '2.0-1', 1],
  ['1.2', '1.2-7.el9', 0],
  ['1.2-7.el9', '1.2-10.el9', -1],
  ['1a', '1.1', -1],
];

describe('package versions', () => {
  test('Debian ordering (dpkg): epochs, ~ before the end, letters before other characters, numeric runs as numbers, revisions', () => {
    for (const [a, b, sign] of DEB) {
      assert.equal(Math.sign(compareVersions(a, b, 'deb')), sign, `${a} vs ${b}`);
      assert.equal(Math.sign(compareVersions(b, a, 'deb')), 0 - sign, `${b} vs ${a}`);
    }
  });

  test('RPM ordering (rpmvercmp): ~ and ^, numbers newer than letters, a release compared only when both name one', () => {
    for (const [a, b, sign] of RPM) {
      assert.equal(Math.sign(compareVersions(a, b, 'rpm')), sign, `${a} vs ${b}`);
      assert.equal(Math.sign(compareVersions(b, a, 'rpm')), 0 - sign, `${b} vs ${a}`);
    }
  });

  const dpkg = spawnSync('dpkg', ['--version'], { encoding: 'utf8' });
  test('agrees with the real dpkg --compare-versions', { skip: dpkg.status !== 0 && 'dpkg is not installed' }, () => {
    for (const [a, b] of DEB) {
      const lt = spawnSync('dpkg', ['--compare-versions', a, 'lt', b]).status === 0;
      const eq = spawnSync('dpkg', ['--compare-versions', a, 'eq', b]).status === 0;
      assert.equal(Math.sign(compareVersions(a, b, 'deb')), lt ? -1 : eq ? 0 : 1, `dpkg on ${a} vs ${b}`);
    }
  });

  test('the two schemes differ where the tools differ', () => {
    // dpkg weighs a letter against a digit's empty non-digit run (the letter wins); rpm: a number is newer than letters.
    assert.equal(Math.sign(compareVersions('1.a', '1.1', 'deb')), 1);
    assert.equal(Math.sign(compareVersions('1.a', '1.1', 'rpm')), -1);
    // rpm ignores a release the other side does not name; dpkg counts an absent revision as the empty one.
    assert.equal(compareVersions('1.2-7', '1.2', 'rpm'), 0);
    assert.equal(Math.sign(compareVersions('1.2-7', '1.2', 'deb')), 1);
  });

  test('the version inside a package as clients send it', () => {
    assert.equal(packageVersion('nginx-1.24.0-1'), '1.24.0-1');
    assert.equal(packageVersion('gnome-shell-44.1-1.fc38'), '44.1-1.fc38');
    assert.equal(packageVersion('python3-libs-3.11.4-1.fc38.x86_64'), '3.11.4-1.fc38');
    assert.equal(packageVersion('bash-0:5.2.15-3.fc38.x86_64'), '0:5.2.15-3.fc38');
    assert.equal(packageVersion('nginx 1.24.0-1'), '1.24.0-1');
    assert.equal(packageVersion('nginx=1:1.24.0-1'), '1:1.24.0-1');
    assert.equal(packageVersion('nginx_1.24.0-1_amd64'), '1.24.0-1');
    assert.equal(packageVersion('2.3.1'), '2.3.1');
    assert.equal(packageVersion('proxy-3.2'), '3.2');
    assert.equal(packageVersion('unknown'), undefined);
    assert.equal(packageVersion('just-a-name'), undefined);
    assert.equal(packageVersion(undefined), undefined);
  });

  test('the scheme follows the distribution', () => {
    assert.equal(versionSchemeOf('Fedora Linux 38 (Workstation Edition)', 'bash-5.2'), 'rpm');
    assert.equal(versionSchemeOf('Rocky Linux 9.3 (Blue Onyx)', undefined), 'rpm');
    assert.equal(versionSchemeOf('unknown', 'bash-5.2.15-3.fc38'), 'rpm');
    assert.equal(versionSchemeOf('Debian GNU/Linux 12 (bookworm)', 'bash-5.2.15-3'), 'deb');
    assert.equal(versionSchemeOf(undefined, undefined), 'deb');
  });
});
