import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveSesSmtpPassword } from '../../lambda/rotation/ses-smtp-password.js';
import { SMTP_CLIENT_FILE } from '../../lib/rotation-bundling.js';
import { LocalSesSmtpServer } from '../support/local-ses-smtp-server.js';
import {
  synthesizeRotationStack,
  type SynthesizedStack,
} from '../support/moto/synthesized-stack.js';

/**
 * The function's asset as `cdk synth` builds it: the SES SMTP test's client (nodemailer) is a file
 * of its own beside index.cjs, which loads it only when a secret asks for the test, and that file
 * logs in by itself with plain node (no loader, no node_modules).
 */
const CONFIG = {
  users: [
    {
      userName: 'mailer',
      createUser: true,
      schedule: 'rate(30 days)',
      sesSmtpRegions: ['eu-west-1'],
      sesSmtpTest: true,
    },
  ],
};
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

let synthesized: SynthesizedStack | undefined;
let server: LocalSesSmtpServer | undefined;

beforeAll(async () => {
  synthesized = await synthesizeRotationStack(CONFIG);
  server = await LocalSesSmtpServer.start({
    regions: ['eu-west-1'],
    secretFor: (accessKeyId) => (accessKeyId === KEY_ID ? SECRET : undefined),
  });
});

afterAll(async () => {
  synthesized?.dispose();
  await server?.close();
});

const assetDir = (): string => {
  if (synthesized === undefined) throw new Error('beforeAll did not finish');
  return path.dirname(synthesized.handlerFile);
};

/** Imports the asset's SMTP client file in a new `node` process and logs in once. */
const loginInChild = (password: string): Promise<{ code: number | null; stdout: string }> => {
  const clientUrl = pathToFileURL(path.join(assetDir(), SMTP_CLIENT_FILE)).href;
  const [host = '', port = ''] = (server?.endpoint ?? '').split(':');
  const attempt = { host, port: Number(port), verifyCertificate: false, timeoutMs: 5_000 };
  const script = `
    const { smtpLogin } = await import(${JSON.stringify(clientUrl)});
    try {
      await smtpLogin({ ...${JSON.stringify(attempt)}, username: process.env.SMTP_USERNAME, password: process.env.SMTP_PASSWORD });
      console.log(JSON.stringify({ ok: true }));
    } catch (error) {
      console.log(JSON.stringify({ ok: false, name: error.name, kind: error.kind, message: error.message }));
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', SMTP_USERNAME: KEY_ID, SMTP_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
};

describe('Asset: the SES SMTP client in a file of its own', () => {
  it('holds index.cjs, its chunks and the SMTP client file, and loads nodemailer only from that file', () => {
    const files = readdirSync(assetDir(), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.cjs'))
      .map((file) => file.split(path.sep).join('/'));
    const read = (file: string): string => readFileSync(path.join(assetDir(), file), 'utf8');
    // A phrase of nodemailer's SMTP connection (its AUTH LOGIN handling), tested as a plain
    // boolean so a failure does not print the whole bundle.
    const nodemailerPhrase = 'Invalid login sequence while waiting for';

    expect(files).toContain('index.cjs');
    expect(files).toContain(SMTP_CLIENT_FILE);
    // Required by its file name, on first use, from index.cjs (or, from a chunk, from the folder
    // above).
    const requiredOnFirstUse = (file: string): RegExp =>
      new RegExp(
        String.raw`Promise\.resolve\(\)\.then\(\(\)=>[\w$]*\(?require\("` +
          `${file.includes('/') ? '\\.\\./' : '\\./'}${SMTP_CLIENT_FILE.replace('.', '\\.')}"`,
      );
    expect(files.some((file) => requiredOnFirstUse(file).test(read(file)))).toBe(true);
    expect(files.filter((file) => read(file).includes(nodemailerPhrase))).toEqual([
      SMTP_CLIENT_FILE,
    ]);
  });

  it('logs in with plain node from the asset, and refuses a wrong password as "rejected"', async () => {
    const accepted = await loginInChild(deriveSesSmtpPassword(SECRET, 'eu-west-1'));
    const refused = await loginInChild(deriveSesSmtpPassword(SECRET, 'us-east-1'));

    expect(accepted).toEqual({ code: 0, stdout: `${JSON.stringify({ ok: true })}\n` });
    expect(JSON.parse(refused.stdout)).toEqual({
      ok: false,
      name: 'SmtpLoginError',
      kind: 'rejected',
      message: `${server?.endpoint ?? ''} EAUTH (535 Authentication Credentials Invalid)`,
    });
    expect(server?.logins.map((login) => [login.secure, login.accepted])).toEqual([
      [true, true],
      [true, false],
    ]);
  });
});
