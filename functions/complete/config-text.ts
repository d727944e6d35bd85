// Turns the text of the `LLM_CONFIG` file into a value (JSON, or YAML), reporting a syntax error by
// line and column only: the parsers' own messages quote the file, and the file may hold secrets.
import { parseDocument } from 'yaml';

/** A file that does not parse: where, never what. */
export class ConfigSyntaxError extends Error {
  override name = 'ConfigSyntaxError';
  constructor(
    readonly format: 'JSON' | 'YAML',
    readonly line?: number,
    readonly column?: number,
  ) {
    super(
      line === undefined
        ? `is not valid ${format}`
        : `is not valid ${format}: syntax error at line ${line}, column ${column}`,
    );
  }
}

/** Parses the file's text as YAML when `yaml`, else as JSON; throws `ConfigSyntaxError`. */
export function parseConfigText(text: string, yaml: boolean): unknown {
  return yaml ? parseYamlText(text) : parseJsonText(text.replace(/^\uFEFF/, ''));
}

function parseYamlText(text: string): unknown {
  // parseDocument (unlike parse) emits no warnings: the `yaml` package prints them with the source line.
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    throw new ConfigSyntaxError('YAML', at?.line, at?.col);
  }
  try {
    return doc.toJS();
  } catch {
    throw new ConfigSyntaxError('YAML'); // an unknown anchor or too many aliases; the message would name it
  }
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const offset = jsonErrorOffset(text);
    if (offset === undefined) throw new ConfigSyntaxError('JSON');
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    throw new ConfigSyntaxError('JSON', line, offset - before.lastIndexOf('\n'));
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ['true', 'false', 'null'];

/**
 * The offset of the first JSON syntax error in `text`, found by a small recursive-descent scan
 * (JSON.parse gives no position on every Node version); undefined when nesting is too deep to scan.
 */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const fail = (): never => {
    throw new JsonSyntaxAt(i);
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (char: string) => {
    space();
    if (text[i] !== char) fail();
    i++;
  };
  const string = () => {
    if (text[i] !== '"') fail();
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') return void i++;
      if (c === '\\') {
        const next = text[i + 1] ?? '';
        if ('"\\/bfnrt'.includes(next) && next !== '') i += 2;
        else if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) i += 6;
        else fail();
      } else if (c < ' ') fail();
      else i++;
    }
    fail();
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === '{') {
          space();
          string();
          expect(':');
        }
        value();
        space();
        if (text[i] === ',') i++;
        else return expect(close);
      }
    }
    if (c === '"') return string();
    NUMBER.lastIndex = i;
    if (NUMBER.test(text)) return void (i = NUMBER.lastIndex);
    const literal = LITERALS.find((l) => text.startsWith(l, i));
    if (literal) return void (i += literal.length);
    fail();
  };
  try {
    value();
    space();
    return i < text.length ? i : text.length;
  } catch (err) {
    if (err instanceof JsonSyntaxAt) return err.offset;
    return undefined; // RangeError: nested deeper than the stack allows
  }
}

class JsonSyntaxAt {
  constructor(readonly offset: number) {}
}
