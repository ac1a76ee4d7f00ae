// JSON.parse does not always say where the text went wrong (V8: "Unexpected token '}', ... is not
// valid JSON"). This scanner finds the offset of the first syntax error; it runs only after
// JSON.parse has failed, and keeps its own stack so deep nesting cannot overflow.

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// JSON forbids raw control characters (U+0000 to U+001F) inside strings.
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/** The offset of the first JSON syntax error in `text`, or undefined if none is found. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const stack: ('{' | '[')[] = [];
  const skip = () => {
    while (i < text.length && WHITESPACE.has(text[i] as string)) i++;
  };
  const match = (regex: RegExp): boolean => {
    regex.lastIndex = i;
    if (!regex.test(text)) return false;
    i = regex.lastIndex;
    return true;
  };
  // Expect a value at i; after it, expect `,` / closer / end.
  for (;;) {
    skip();
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      skip();
      if (text[i] === (c === '{' ? '}' : ']')) {
        stack.pop();
        i++;
      } else if (c === '{') {
        if (!match(STRING)) return i;
        skip();
        if (text[i] !== ':') return i;
        i++;
        continue;
      } else {
        continue;
      }
    } else if (c === '"') {
      if (!match(STRING)) return i;
    } else if (text.startsWith('true', i)) i += 4;
    else if (text.startsWith('false', i)) i += 5;
    else if (text.startsWith('null', i)) i += 4;
    else if (!match(NUMBER)) return i;
    // After a value: close containers or move to the next member.
    for (;;) {
      skip();
      const top = stack[stack.length - 1];
      if (top === undefined) return i < text.length ? i : undefined;
      const next = text[i];
      if (next === ',') {
        i++;
        if (top === '{') {
          skip();
          if (!match(STRING)) return i;
          skip();
          if (text[i] !== ':') return i;
          i++;
        }
        break;
      }
      if (next === (top === '{' ? '}' : ']')) {
        stack.pop();
        i++;
        continue;
      }
      return i;
    }
  }
}
