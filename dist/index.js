import { createRequire } from "node:module"; const require = createRequire(import.meta.url);

// node_modules/@actions/core/lib/command.js
import * as os from "os";

// node_modules/@actions/core/lib/utils.js
function toCommandValue(input) {
  if (input === null || input === void 0) {
    return "";
  } else if (typeof input === "string" || input instanceof String) {
    return input;
  }
  return JSON.stringify(input);
}
function toCommandProperties(annotationProperties) {
  if (!Object.keys(annotationProperties).length) {
    return {};
  }
  return {
    title: annotationProperties.title,
    file: annotationProperties.file,
    line: annotationProperties.startLine,
    endLine: annotationProperties.endLine,
    col: annotationProperties.startColumn,
    endColumn: annotationProperties.endColumn
  };
}

// node_modules/@actions/core/lib/command.js
function issueCommand(command, properties, message) {
  const cmd = new Command(command, properties, message);
  process.stdout.write(cmd.toString() + os.EOL);
}
function issue(name, message = "") {
  issueCommand(name, {}, message);
}
var CMD_STRING = "::";
var Command = class {
  constructor(command, properties, message) {
    if (!command) {
      command = "missing.command";
    }
    this.command = command;
    this.properties = properties;
    this.message = message;
  }
  toString() {
    let cmdStr = CMD_STRING + this.command;
    if (this.properties && Object.keys(this.properties).length > 0) {
      cmdStr += " ";
      let first = true;
      for (const key in this.properties) {
        if (this.properties.hasOwnProperty(key)) {
          const val = this.properties[key];
          if (val) {
            if (first) {
              first = false;
            } else {
              cmdStr += ",";
            }
            cmdStr += `${key}=${escapeProperty(val)}`;
          }
        }
      }
    }
    cmdStr += `${CMD_STRING}${escapeData(this.message)}`;
    return cmdStr;
  }
};
function escapeData(s) {
  return toCommandValue(s).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}
function escapeProperty(s) {
  return toCommandValue(s).replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/:/g, "%3A").replace(/,/g, "%2C");
}

// node_modules/@actions/core/lib/file-command.js
import * as crypto from "crypto";
import * as fs from "fs";
import * as os2 from "os";
function issueFileCommand(command, message) {
  const filePath = process.env[`GITHUB_${command}`];
  if (!filePath) {
    throw new Error(`Unable to find environment variable for file command ${command}`);
  }
  if (!fs.existsSync(filePath)) {
    throw new Error(`Missing file at path: ${filePath}`);
  }
  fs.appendFileSync(filePath, `${toCommandValue(message)}${os2.EOL}`, {
    encoding: "utf8"
  });
}
function prepareKeyValueMessage(key, value) {
  const delimiter2 = `ghadelimiter_${crypto.randomUUID()}`;
  const convertedValue = toCommandValue(value);
  if (key.includes(delimiter2)) {
    throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter2}"`);
  }
  if (convertedValue.includes(delimiter2)) {
    throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter2}"`);
  }
  return `${key}<<${delimiter2}${os2.EOL}${convertedValue}${os2.EOL}${delimiter2}`;
}

// node_modules/@actions/core/lib/core.js
import * as os5 from "os";

// node_modules/@actions/core/lib/summary.js
import { EOL as EOL3 } from "os";
import { constants, promises } from "fs";
var __awaiter = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
var { access, appendFile, writeFile } = promises;
var SUMMARY_ENV_VAR = "GITHUB_STEP_SUMMARY";
var Summary = class {
  constructor() {
    this._buffer = "";
  }
  /**
   * Finds the summary file path from the environment, rejects if env var is not found or file does not exist
   * Also checks r/w permissions.
   *
   * @returns step summary file path
   */
  filePath() {
    return __awaiter(this, void 0, void 0, function* () {
      if (this._filePath) {
        return this._filePath;
      }
      const pathFromEnv = process.env[SUMMARY_ENV_VAR];
      if (!pathFromEnv) {
        throw new Error(`Unable to find environment variable for $${SUMMARY_ENV_VAR}. Check if your runtime environment supports job summaries.`);
      }
      try {
        yield access(pathFromEnv, constants.R_OK | constants.W_OK);
      } catch (_a) {
        throw new Error(`Unable to access summary file: '${pathFromEnv}'. Check if the file has correct read/write permissions.`);
      }
      this._filePath = pathFromEnv;
      return this._filePath;
    });
  }
  /**
   * Wraps content in an HTML tag, adding any HTML attributes
   *
   * @param {string} tag HTML tag to wrap
   * @param {string | null} content content within the tag
   * @param {[attribute: string]: string} attrs key-value list of HTML attributes to add
   *
   * @returns {string} content wrapped in HTML element
   */
  wrap(tag, content, attrs = {}) {
    const htmlAttrs = Object.entries(attrs).map(([key, value]) => ` ${key}="${value}"`).join("");
    if (!content) {
      return `<${tag}${htmlAttrs}>`;
    }
    return `<${tag}${htmlAttrs}>${content}</${tag}>`;
  }
  /**
   * Writes text in the buffer to the summary buffer file and empties buffer. Will append by default.
   *
   * @param {SummaryWriteOptions} [options] (optional) options for write operation
   *
   * @returns {Promise<Summary>} summary instance
   */
  write(options) {
    return __awaiter(this, void 0, void 0, function* () {
      const overwrite = !!(options === null || options === void 0 ? void 0 : options.overwrite);
      const filePath = yield this.filePath();
      const writeFunc = overwrite ? writeFile : appendFile;
      yield writeFunc(filePath, this._buffer, { encoding: "utf8" });
      return this.emptyBuffer();
    });
  }
  /**
   * Clears the summary buffer and wipes the summary file
   *
   * @returns {Summary} summary instance
   */
  clear() {
    return __awaiter(this, void 0, void 0, function* () {
      return this.emptyBuffer().write({ overwrite: true });
    });
  }
  /**
   * Returns the current summary buffer as a string
   *
   * @returns {string} string of summary buffer
   */
  stringify() {
    return this._buffer;
  }
  /**
   * If the summary buffer is empty
   *
   * @returns {boolen} true if the buffer is empty
   */
  isEmptyBuffer() {
    return this._buffer.length === 0;
  }
  /**
   * Resets the summary buffer without writing to summary file
   *
   * @returns {Summary} summary instance
   */
  emptyBuffer() {
    this._buffer = "";
    return this;
  }
  /**
   * Adds raw text to the summary buffer
   *
   * @param {string} text content to add
   * @param {boolean} [addEOL=false] (optional) append an EOL to the raw text (default: false)
   *
   * @returns {Summary} summary instance
   */
  addRaw(text, addEOL = false) {
    this._buffer += text;
    return addEOL ? this.addEOL() : this;
  }
  /**
   * Adds the operating system-specific end-of-line marker to the buffer
   *
   * @returns {Summary} summary instance
   */
  addEOL() {
    return this.addRaw(EOL3);
  }
  /**
   * Adds an HTML codeblock to the summary buffer
   *
   * @param {string} code content to render within fenced code block
   * @param {string} lang (optional) language to syntax highlight code
   *
   * @returns {Summary} summary instance
   */
  addCodeBlock(code, lang) {
    const attrs = Object.assign({}, lang && { lang });
    const element = this.wrap("pre", this.wrap("code", code), attrs);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML list to the summary buffer
   *
   * @param {string[]} items list of items to render
   * @param {boolean} [ordered=false] (optional) if the rendered list should be ordered or not (default: false)
   *
   * @returns {Summary} summary instance
   */
  addList(items, ordered = false) {
    const tag = ordered ? "ol" : "ul";
    const listItems = items.map((item) => this.wrap("li", item)).join("");
    const element = this.wrap(tag, listItems);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML table to the summary buffer
   *
   * @param {SummaryTableCell[]} rows table rows
   *
   * @returns {Summary} summary instance
   */
  addTable(rows) {
    const tableBody = rows.map((row) => {
      const cells = row.map((cell) => {
        if (typeof cell === "string") {
          return this.wrap("td", cell);
        }
        const { header, data, colspan, rowspan } = cell;
        const tag = header ? "th" : "td";
        const attrs = Object.assign(Object.assign({}, colspan && { colspan }), rowspan && { rowspan });
        return this.wrap(tag, data, attrs);
      }).join("");
      return this.wrap("tr", cells);
    }).join("");
    const element = this.wrap("table", tableBody);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds a collapsable HTML details element to the summary buffer
   *
   * @param {string} label text for the closed state
   * @param {string} content collapsable content
   *
   * @returns {Summary} summary instance
   */
  addDetails(label, content) {
    const element = this.wrap("details", this.wrap("summary", label) + content);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML image tag to the summary buffer
   *
   * @param {string} src path to the image you to embed
   * @param {string} alt text description of the image
   * @param {SummaryImageOptions} options (optional) addition image attributes
   *
   * @returns {Summary} summary instance
   */
  addImage(src, alt, options) {
    const { width, height } = options || {};
    const attrs = Object.assign(Object.assign({}, width && { width }), height && { height });
    const element = this.wrap("img", null, Object.assign({ src, alt }, attrs));
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML section heading element
   *
   * @param {string} text heading text
   * @param {number | string} [level=1] (optional) the heading level, default: 1
   *
   * @returns {Summary} summary instance
   */
  addHeading(text, level) {
    const tag = `h${level}`;
    const allowedTag = ["h1", "h2", "h3", "h4", "h5", "h6"].includes(tag) ? tag : "h1";
    const element = this.wrap(allowedTag, text);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML thematic break (<hr>) to the summary buffer
   *
   * @returns {Summary} summary instance
   */
  addSeparator() {
    const element = this.wrap("hr", null);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML line break (<br>) to the summary buffer
   *
   * @returns {Summary} summary instance
   */
  addBreak() {
    const element = this.wrap("br", null);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML blockquote to the summary buffer
   *
   * @param {string} text quote text
   * @param {string} cite (optional) citation url
   *
   * @returns {Summary} summary instance
   */
  addQuote(text, cite) {
    const attrs = Object.assign({}, cite && { cite });
    const element = this.wrap("blockquote", text, attrs);
    return this.addRaw(element).addEOL();
  }
  /**
   * Adds an HTML anchor tag to the summary buffer
   *
   * @param {string} text link text/content
   * @param {string} href hyperlink
   *
   * @returns {Summary} summary instance
   */
  addLink(text, href) {
    const element = this.wrap("a", text, { href });
    return this.addRaw(element).addEOL();
  }
};
var _summary = new Summary();
var summary = _summary;

// node_modules/@actions/core/lib/platform.js
import os4 from "os";

// node_modules/@actions/exec/lib/toolrunner.js
import * as os3 from "os";
import * as events from "events";
import * as child from "child_process";
import * as path3 from "path";

// node_modules/@actions/io/lib/io.js
import * as path2 from "path";

// node_modules/@actions/io/lib/io-util.js
import * as fs2 from "fs";
import * as path from "path";
var __awaiter2 = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
var { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, symlink, unlink } = fs2.promises;
var IS_WINDOWS = process.platform === "win32";
var READONLY = fs2.constants.O_RDONLY;
function exists(fsPath) {
  return __awaiter2(this, void 0, void 0, function* () {
    try {
      yield stat(fsPath);
    } catch (err) {
      if (err.code === "ENOENT") {
        return false;
      }
      throw err;
    }
    return true;
  });
}
function isRooted(p) {
  p = normalizeSeparators(p);
  if (!p) {
    throw new Error('isRooted() parameter "p" cannot be empty');
  }
  if (IS_WINDOWS) {
    return p.startsWith("\\") || /^[A-Z]:/i.test(p);
  }
  return p.startsWith("/");
}
function tryGetExecutablePath(filePath, extensions) {
  return __awaiter2(this, void 0, void 0, function* () {
    let stats = void 0;
    try {
      stats = yield stat(filePath);
    } catch (err) {
      if (err.code !== "ENOENT") {
        console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
      }
    }
    if (stats && stats.isFile()) {
      if (IS_WINDOWS) {
        const upperExt = path.extname(filePath).toUpperCase();
        if (extensions.some((validExt) => validExt.toUpperCase() === upperExt)) {
          return filePath;
        }
      } else {
        if (isUnixExecutable(stats)) {
          return filePath;
        }
      }
    }
    const originalFilePath = filePath;
    for (const extension of extensions) {
      filePath = originalFilePath + extension;
      stats = void 0;
      try {
        stats = yield stat(filePath);
      } catch (err) {
        if (err.code !== "ENOENT") {
          console.log(`Unexpected error attempting to determine if executable file exists '${filePath}': ${err}`);
        }
      }
      if (stats && stats.isFile()) {
        if (IS_WINDOWS) {
          try {
            const directory = path.dirname(filePath);
            const upperName = path.basename(filePath).toUpperCase();
            for (const actualName of yield readdir(directory)) {
              if (upperName === actualName.toUpperCase()) {
                filePath = path.join(directory, actualName);
                break;
              }
            }
          } catch (err) {
            console.log(`Unexpected error attempting to determine the actual case of the file '${filePath}': ${err}`);
          }
          return filePath;
        } else {
          if (isUnixExecutable(stats)) {
            return filePath;
          }
        }
      }
    }
    return "";
  });
}
function normalizeSeparators(p) {
  p = p || "";
  if (IS_WINDOWS) {
    p = p.replace(/\//g, "\\");
    return p.replace(/\\\\+/g, "\\");
  }
  return p.replace(/\/\/+/g, "/");
}
function isUnixExecutable(stats) {
  return (stats.mode & 1) > 0 || (stats.mode & 8) > 0 && process.getgid !== void 0 && stats.gid === process.getgid() || (stats.mode & 64) > 0 && process.getuid !== void 0 && stats.uid === process.getuid();
}

// node_modules/@actions/io/lib/io.js
var __awaiter3 = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
function which(tool, check) {
  return __awaiter3(this, void 0, void 0, function* () {
    if (!tool) {
      throw new Error("parameter 'tool' is required");
    }
    if (check) {
      const result = yield which(tool, false);
      if (!result) {
        if (IS_WINDOWS) {
          throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also verify the file has a valid extension for an executable file.`);
        } else {
          throw new Error(`Unable to locate executable file: ${tool}. Please verify either the file path exists or the file can be found within a directory specified by the PATH environment variable. Also check the file mode to verify the file is executable.`);
        }
      }
      return result;
    }
    const matches = yield findInPath(tool);
    if (matches && matches.length > 0) {
      return matches[0];
    }
    return "";
  });
}
function findInPath(tool) {
  return __awaiter3(this, void 0, void 0, function* () {
    if (!tool) {
      throw new Error("parameter 'tool' is required");
    }
    const extensions = [];
    if (IS_WINDOWS && process.env["PATHEXT"]) {
      for (const extension of process.env["PATHEXT"].split(path2.delimiter)) {
        if (extension) {
          extensions.push(extension);
        }
      }
    }
    if (isRooted(tool)) {
      const filePath = yield tryGetExecutablePath(tool, extensions);
      if (filePath) {
        return [filePath];
      }
      return [];
    }
    if (tool.includes(path2.sep)) {
      return [];
    }
    const directories = [];
    if (process.env.PATH) {
      for (const p of process.env.PATH.split(path2.delimiter)) {
        if (p) {
          directories.push(p);
        }
      }
    }
    const matches = [];
    for (const directory of directories) {
      const filePath = yield tryGetExecutablePath(path2.join(directory, tool), extensions);
      if (filePath) {
        matches.push(filePath);
      }
    }
    return matches;
  });
}

// node_modules/@actions/exec/lib/toolrunner.js
import { setTimeout as setTimeout2 } from "timers";
var __awaiter4 = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
var IS_WINDOWS2 = process.platform === "win32";
var ToolRunner = class extends events.EventEmitter {
  constructor(toolPath, args, options) {
    super();
    if (!toolPath) {
      throw new Error("Parameter 'toolPath' cannot be null or empty.");
    }
    this.toolPath = toolPath;
    this.args = args || [];
    this.options = options || {};
  }
  _debug(message) {
    if (this.options.listeners && this.options.listeners.debug) {
      this.options.listeners.debug(message);
    }
  }
  _getCommandString(options, noPrefix) {
    const toolPath = this._getSpawnFileName();
    const args = this._getSpawnArgs(options);
    let cmd = noPrefix ? "" : "[command]";
    if (IS_WINDOWS2) {
      if (this._isCmdFile()) {
        cmd += toolPath;
        for (const a of args) {
          cmd += ` ${a}`;
        }
      } else if (options.windowsVerbatimArguments) {
        cmd += `"${toolPath}"`;
        for (const a of args) {
          cmd += ` ${a}`;
        }
      } else {
        cmd += this._windowsQuoteCmdArg(toolPath);
        for (const a of args) {
          cmd += ` ${this._windowsQuoteCmdArg(a)}`;
        }
      }
    } else {
      cmd += toolPath;
      for (const a of args) {
        cmd += ` ${a}`;
      }
    }
    return cmd;
  }
  _processLineBuffer(data, strBuffer, onLine) {
    try {
      let s = strBuffer + data.toString();
      let n = s.indexOf(os3.EOL);
      while (n > -1) {
        const line = s.substring(0, n);
        onLine(line);
        s = s.substring(n + os3.EOL.length);
        n = s.indexOf(os3.EOL);
      }
      return s;
    } catch (err) {
      this._debug(`error processing line. Failed with error ${err}`);
      return "";
    }
  }
  _getSpawnFileName() {
    if (IS_WINDOWS2) {
      if (this._isCmdFile()) {
        return process.env["COMSPEC"] || "cmd.exe";
      }
    }
    return this.toolPath;
  }
  _getSpawnArgs(options) {
    if (IS_WINDOWS2) {
      if (this._isCmdFile()) {
        let argline = `/D /S /C "${this._windowsQuoteCmdArg(this.toolPath)}`;
        for (const a of this.args) {
          argline += " ";
          argline += options.windowsVerbatimArguments ? a : this._windowsQuoteCmdArg(a);
        }
        argline += '"';
        return [argline];
      }
    }
    return this.args;
  }
  _endsWith(str, end) {
    return str.endsWith(end);
  }
  _isCmdFile() {
    const upperToolPath = this.toolPath.toUpperCase();
    return this._endsWith(upperToolPath, ".CMD") || this._endsWith(upperToolPath, ".BAT");
  }
  _windowsQuoteCmdArg(arg) {
    if (!this._isCmdFile()) {
      return this._uvQuoteCmdArg(arg);
    }
    if (!arg) {
      return '""';
    }
    const cmdSpecialChars = [
      " ",
      "	",
      "&",
      "(",
      ")",
      "[",
      "]",
      "{",
      "}",
      "^",
      "=",
      ";",
      "!",
      "'",
      "+",
      ",",
      "`",
      "~",
      "|",
      "<",
      ">",
      '"'
    ];
    let needsQuotes = false;
    for (const char of arg) {
      if (cmdSpecialChars.some((x) => x === char)) {
        needsQuotes = true;
        break;
      }
    }
    if (!needsQuotes) {
      return arg;
    }
    let reverse = '"';
    let quoteHit = true;
    for (let i = arg.length; i > 0; i--) {
      reverse += arg[i - 1];
      if (quoteHit && arg[i - 1] === "\\") {
        reverse += "\\";
      } else if (arg[i - 1] === '"') {
        quoteHit = true;
        reverse += '"';
      } else {
        quoteHit = false;
      }
    }
    reverse += '"';
    return reverse.split("").reverse().join("");
  }
  _uvQuoteCmdArg(arg) {
    if (!arg) {
      return '""';
    }
    if (!arg.includes(" ") && !arg.includes("	") && !arg.includes('"')) {
      return arg;
    }
    if (!arg.includes('"') && !arg.includes("\\")) {
      return `"${arg}"`;
    }
    let reverse = '"';
    let quoteHit = true;
    for (let i = arg.length; i > 0; i--) {
      reverse += arg[i - 1];
      if (quoteHit && arg[i - 1] === "\\") {
        reverse += "\\";
      } else if (arg[i - 1] === '"') {
        quoteHit = true;
        reverse += "\\";
      } else {
        quoteHit = false;
      }
    }
    reverse += '"';
    return reverse.split("").reverse().join("");
  }
  _cloneExecOptions(options) {
    options = options || {};
    const result = {
      cwd: options.cwd || process.cwd(),
      env: options.env || process.env,
      silent: options.silent || false,
      windowsVerbatimArguments: options.windowsVerbatimArguments || false,
      failOnStdErr: options.failOnStdErr || false,
      ignoreReturnCode: options.ignoreReturnCode || false,
      delay: options.delay || 1e4
    };
    result.outStream = options.outStream || process.stdout;
    result.errStream = options.errStream || process.stderr;
    return result;
  }
  _getSpawnOptions(options, toolPath) {
    options = options || {};
    const result = {};
    result.cwd = options.cwd;
    result.env = options.env;
    result["windowsVerbatimArguments"] = options.windowsVerbatimArguments || this._isCmdFile();
    if (options.windowsVerbatimArguments) {
      result.argv0 = `"${toolPath}"`;
    }
    return result;
  }
  /**
   * Exec a tool.
   * Output will be streamed to the live console.
   * Returns promise with return code
   *
   * @param     tool     path to tool to exec
   * @param     options  optional exec options.  See ExecOptions
   * @returns   number
   */
  exec() {
    return __awaiter4(this, void 0, void 0, function* () {
      if (!isRooted(this.toolPath) && (this.toolPath.includes("/") || IS_WINDOWS2 && this.toolPath.includes("\\"))) {
        this.toolPath = path3.resolve(process.cwd(), this.options.cwd || process.cwd(), this.toolPath);
      }
      this.toolPath = yield which(this.toolPath, true);
      return new Promise((resolve2, reject) => __awaiter4(this, void 0, void 0, function* () {
        this._debug(`exec tool: ${this.toolPath}`);
        this._debug("arguments:");
        for (const arg of this.args) {
          this._debug(`   ${arg}`);
        }
        const optionsNonNull = this._cloneExecOptions(this.options);
        if (!optionsNonNull.silent && optionsNonNull.outStream) {
          optionsNonNull.outStream.write(this._getCommandString(optionsNonNull) + os3.EOL);
        }
        const state = new ExecState(optionsNonNull, this.toolPath);
        state.on("debug", (message) => {
          this._debug(message);
        });
        if (this.options.cwd && !(yield exists(this.options.cwd))) {
          return reject(new Error(`The cwd: ${this.options.cwd} does not exist!`));
        }
        const fileName = this._getSpawnFileName();
        const cp = child.spawn(fileName, this._getSpawnArgs(optionsNonNull), this._getSpawnOptions(this.options, fileName));
        let stdbuffer = "";
        if (cp.stdout) {
          cp.stdout.on("data", (data) => {
            if (this.options.listeners && this.options.listeners.stdout) {
              this.options.listeners.stdout(data);
            }
            if (!optionsNonNull.silent && optionsNonNull.outStream) {
              optionsNonNull.outStream.write(data);
            }
            stdbuffer = this._processLineBuffer(data, stdbuffer, (line) => {
              if (this.options.listeners && this.options.listeners.stdline) {
                this.options.listeners.stdline(line);
              }
            });
          });
        }
        let errbuffer = "";
        if (cp.stderr) {
          cp.stderr.on("data", (data) => {
            state.processStderr = true;
            if (this.options.listeners && this.options.listeners.stderr) {
              this.options.listeners.stderr(data);
            }
            if (!optionsNonNull.silent && optionsNonNull.errStream && optionsNonNull.outStream) {
              const s = optionsNonNull.failOnStdErr ? optionsNonNull.errStream : optionsNonNull.outStream;
              s.write(data);
            }
            errbuffer = this._processLineBuffer(data, errbuffer, (line) => {
              if (this.options.listeners && this.options.listeners.errline) {
                this.options.listeners.errline(line);
              }
            });
          });
        }
        cp.on("error", (err) => {
          state.processError = err.message;
          state.processExited = true;
          state.processClosed = true;
          state.CheckComplete();
        });
        cp.on("exit", (code) => {
          state.processExitCode = code;
          state.processExited = true;
          this._debug(`Exit code ${code} received from tool '${this.toolPath}'`);
          state.CheckComplete();
        });
        cp.on("close", (code) => {
          state.processExitCode = code;
          state.processExited = true;
          state.processClosed = true;
          this._debug(`STDIO streams have closed for tool '${this.toolPath}'`);
          state.CheckComplete();
        });
        state.on("done", (error2, exitCode) => {
          if (stdbuffer.length > 0) {
            this.emit("stdline", stdbuffer);
          }
          if (errbuffer.length > 0) {
            this.emit("errline", errbuffer);
          }
          cp.removeAllListeners();
          if (error2) {
            reject(error2);
          } else {
            resolve2(exitCode);
          }
        });
        if (this.options.input) {
          if (!cp.stdin) {
            throw new Error("child process missing stdin");
          }
          cp.stdin.end(this.options.input);
        }
      }));
    });
  }
};
function argStringToArray(argString) {
  const args = [];
  let inQuotes = false;
  let escaped = false;
  let arg = "";
  function append(c) {
    if (escaped && c !== '"') {
      arg += "\\";
    }
    arg += c;
    escaped = false;
  }
  for (let i = 0; i < argString.length; i++) {
    const c = argString.charAt(i);
    if (c === '"') {
      if (!escaped) {
        inQuotes = !inQuotes;
      } else {
        append(c);
      }
      continue;
    }
    if (c === "\\" && escaped) {
      append(c);
      continue;
    }
    if (c === "\\" && inQuotes) {
      escaped = true;
      continue;
    }
    if (c === " " && !inQuotes) {
      if (arg.length > 0) {
        args.push(arg);
        arg = "";
      }
      continue;
    }
    append(c);
  }
  if (arg.length > 0) {
    args.push(arg.trim());
  }
  return args;
}
var ExecState = class _ExecState extends events.EventEmitter {
  constructor(options, toolPath) {
    super();
    this.processClosed = false;
    this.processError = "";
    this.processExitCode = 0;
    this.processExited = false;
    this.processStderr = false;
    this.delay = 1e4;
    this.done = false;
    this.timeout = null;
    if (!toolPath) {
      throw new Error("toolPath must not be empty");
    }
    this.options = options;
    this.toolPath = toolPath;
    if (options.delay) {
      this.delay = options.delay;
    }
  }
  CheckComplete() {
    if (this.done) {
      return;
    }
    if (this.processClosed) {
      this._setResult();
    } else if (this.processExited) {
      this.timeout = setTimeout2(_ExecState.HandleTimeout, this.delay, this);
    }
  }
  _debug(message) {
    this.emit("debug", message);
  }
  _setResult() {
    let error2;
    if (this.processExited) {
      if (this.processError) {
        error2 = new Error(`There was an error when attempting to execute the process '${this.toolPath}'. This may indicate the process failed to start. Error: ${this.processError}`);
      } else if (this.processExitCode !== 0 && !this.options.ignoreReturnCode) {
        error2 = new Error(`The process '${this.toolPath}' failed with exit code ${this.processExitCode}`);
      } else if (this.processStderr && this.options.failOnStdErr) {
        error2 = new Error(`The process '${this.toolPath}' failed because one or more lines were written to the STDERR stream`);
      }
    }
    if (this.timeout) {
      clearTimeout(this.timeout);
      this.timeout = null;
    }
    this.done = true;
    this.emit("done", error2, this.processExitCode);
  }
  static HandleTimeout(state) {
    if (state.done) {
      return;
    }
    if (!state.processClosed && state.processExited) {
      const message = `The STDIO streams did not close within ${state.delay / 1e3} seconds of the exit event from process '${state.toolPath}'. This may indicate a child process inherited the STDIO streams and has not yet exited.`;
      state._debug(message);
    }
    state._setResult();
  }
};

// node_modules/@actions/exec/lib/exec.js
var __awaiter5 = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
function exec(commandLine, args, options) {
  return __awaiter5(this, void 0, void 0, function* () {
    const commandArgs = argStringToArray(commandLine);
    if (commandArgs.length === 0) {
      throw new Error(`Parameter 'commandLine' cannot be null or empty.`);
    }
    const toolPath = commandArgs[0];
    args = commandArgs.slice(1).concat(args || []);
    const runner = new ToolRunner(toolPath, args, options);
    return runner.exec();
  });
}

// node_modules/@actions/core/lib/platform.js
var platform = os4.platform();
var arch = os4.arch();

// node_modules/@actions/core/lib/core.js
var __awaiter6 = function(thisArg, _arguments, P, generator) {
  function adopt(value) {
    return value instanceof P ? value : new P(function(resolve2) {
      resolve2(value);
    });
  }
  return new (P || (P = Promise))(function(resolve2, reject) {
    function fulfilled(value) {
      try {
        step(generator.next(value));
      } catch (e) {
        reject(e);
      }
    }
    function rejected(value) {
      try {
        step(generator["throw"](value));
      } catch (e) {
        reject(e);
      }
    }
    function step(result) {
      result.done ? resolve2(result.value) : adopt(result.value).then(fulfilled, rejected);
    }
    step((generator = generator.apply(thisArg, _arguments || [])).next());
  });
};
var ExitCode;
(function(ExitCode2) {
  ExitCode2[ExitCode2["Success"] = 0] = "Success";
  ExitCode2[ExitCode2["Failure"] = 1] = "Failure";
})(ExitCode || (ExitCode = {}));
function exportVariable(name, val) {
  const convertedVal = toCommandValue(val);
  process.env[name] = convertedVal;
  const filePath = process.env["GITHUB_ENV"] || "";
  if (filePath) {
    return issueFileCommand("ENV", prepareKeyValueMessage(name, val));
  }
  issueCommand("set-env", { name }, convertedVal);
}
function setSecret(secret) {
  issueCommand("add-mask", {}, secret);
}
function getInput(name, options) {
  const val = process.env[`INPUT_${name.replace(/ /g, "_").toUpperCase()}`] || "";
  if (options && options.required && !val) {
    throw new Error(`Input required and not supplied: ${name}`);
  }
  if (options && options.trimWhitespace === false) {
    return val;
  }
  return val.trim();
}
function setOutput(name, value) {
  const filePath = process.env["GITHUB_OUTPUT"] || "";
  if (filePath) {
    return issueFileCommand("OUTPUT", prepareKeyValueMessage(name, value));
  }
  process.stdout.write(os5.EOL);
  issueCommand("set-output", { name }, toCommandValue(value));
}
function setFailed(message) {
  process.exitCode = ExitCode.Failure;
  error(message);
}
function error(message, properties = {}) {
  issueCommand("error", toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
function warning(message, properties = {}) {
  issueCommand("warning", toCommandProperties(properties), message instanceof Error ? message.toString() : message);
}
function info(message) {
  process.stdout.write(message + os5.EOL);
}
function startGroup(name) {
  issue("group", name);
}
function endGroup() {
  issue("endgroup");
}
function group(name, fn) {
  return __awaiter6(this, void 0, void 0, function* () {
    startGroup(name);
    let result;
    try {
      result = yield fn();
    } finally {
      endGroup();
    }
    return result;
  });
}
function saveState(name, value) {
  const filePath = process.env["GITHUB_STATE"] || "";
  if (filePath) {
    return issueFileCommand("STATE", prepareKeyValueMessage(name, value));
  }
  issueCommand("save-state", { name }, toCommandValue(value));
}
function getState(name) {
  return process.env[`STATE_${name}`] || "";
}

// service/client/http.ts
var http = process.getBuiltinModule("node:http");
var https = process.getBuiltinModule("node:https");
var agents = {
  "http:": new http.Agent({ keepAlive: true }),
  "https:": new https.Agent({ keepAlive: true })
};
function httpRequest(url, o) {
  const target = new URL(url);
  const transport = target.protocol === "https:" ? https : http;
  return new Promise((resolve2, reject) => {
    const request = transport.request(
      target,
      {
        method: o.method,
        headers: o.body === void 0 ? o.headers : { ...o.headers, "content-length": Buffer.byteLength(o.body) },
        agent: agents[target.protocol]
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          clearTimeout(timer);
          resolve2({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            header: (name) => {
              const value = response.headers[name.toLowerCase()];
              return Array.isArray(value) ? value[0] ?? null : value ?? null;
            },
            text: Buffer.concat(chunks).toString("utf8")
          });
        });
      }
    );
    const timer = setTimeout(() => {
      const err = new Error(`no answer within ${o.timeoutMs} ms`);
      err.name = "TimeoutError";
      request.destroy(err);
    }, o.timeoutMs);
    timer.unref();
    request.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    request.end(o.body);
  });
}

// service/client/api-client.ts
var OPERATIONS = {
  exchangeOidcToken: ["POST", "/api/v1/auth/oidc"],
  refreshCredential: ["POST", "/api/v1/auth/refresh"],
  createBuild: ["POST", "/api/v1/builds"],
  getBuild: ["GET", "/api/v1/builds/{id}"],
  heartbeatBuild: ["POST", "/api/v1/builds/{id}/heartbeat"],
  completeBuild: ["POST", "/api/v1/builds/{id}/complete"],
  listCacheVolumes: ["GET", "/api/v1/accounts/{account}/cache-volumes"],
  resetCacheVolume: ["DELETE", "/api/v1/accounts/{account}/cache-volumes/{name}"],
  getUsage: ["GET", "/api/v1/accounts/{account}/usage"],
  createDashboardLink: ["POST", "/api/v1/dashboard/links"]
};
var ApiError = class extends Error {
  constructor(message, status, kind, problem = null, retryAfterSeconds = null) {
    super(message);
    this.status = status;
    this.kind = kind;
    this.problem = problem;
    this.retryAfterSeconds = retryAfterSeconds;
    this.name = "ApiError";
  }
  status;
  kind;
  problem;
  retryAfterSeconds;
};
var staticToken = (token) => ({ token: async () => token });
function exchangedToken(exchange, initial) {
  let current = initial ?? null;
  const refresh = async () => current = await exchange();
  return { token: async () => current ?? refresh(), refresh };
}
var IDEMPOTENT = /* @__PURE__ */ new Set([
  "getBuild",
  "heartbeatBuild",
  "completeBuild",
  "listCacheVolumes",
  "getUsage"
]);
var RETRY_DELAYS_MS = [250, 1e3, 3e3];
var MAX_RETRY_AFTER_MS = 1e4;
var ApiClient = class {
  constructor(options) {
    this.options = options;
    this.serverUrl = options.serverUrl.replace(/\/+$/, "");
  }
  options;
  serverUrl;
  exchangeOidcToken(token, account) {
    return this.call("exchangeOidcToken", {}, { token, ...account ? { account } : {} }, { auth: false });
  }
  /**
   * A new credential with the same scope for a live `credential` (rbc_…), or for this client's own
   * when none is given. Sent once, never retried with another token: a 401 means it is too late.
   */
  refresh(credential) {
    return this.call("refreshCredential", {}, void 0, credential ? { token: credential } : {});
  }
  createBuild(body) {
    return this.call("createBuild", {}, body);
  }
  /** With `waitSeconds`, a long poll: answers once the build is ready or ended, or the wait runs out. */
  getBuild(id, waitSeconds = 0) {
    const query = waitSeconds > 0 ? { wait: String(waitSeconds) } : void 0;
    return this.call("getBuild", { id }, void 0, { query, extraMs: waitSeconds * 1e3 });
  }
  heartbeat(id) {
    return this.call("heartbeatBuild", { id });
  }
  complete(id, result) {
    return this.call("completeBuild", { id }, { result });
  }
  async listCacheVolumes(account) {
    return (await this.call("listCacheVolumes", { account })).volumes;
  }
  resetCacheVolume(account, name) {
    return this.call("resetCacheVolume", { account, name });
  }
  usage(account, range = {}) {
    const query = Object.fromEntries(Object.entries(range).filter(([, v]) => v !== void 0));
    return this.call("getUsage", { account }, void 0, { query });
  }
  /** A one-time sign-in link to the dashboard: the service's URL with the path it returns. */
  async dashboardLink() {
    const link = await this.call("createDashboardLink", {});
    return { ...link, url: this.serverUrl + link.path };
  }
  async call(op, params, body, opts = {}) {
    const [method, template] = OPERATIONS[op];
    const path4 = template.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name] ?? ""));
    const query = opts.query && Object.keys(opts.query).length > 0 ? `?${new URLSearchParams(opts.query)}` : "";
    const url = this.serverUrl + path4 + query;
    const auth = opts.auth === false || opts.token ? null : this.options.auth ?? null;
    let token = opts.token ?? (auth ? await auth.token() : null);
    let refreshed = false;
    for (let attempt = 0; ; ) {
      try {
        return await this.send(method, url, body, token, opts.extraMs ?? 0);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 401 && auth?.refresh && !refreshed) {
          refreshed = true;
          token = await auth.refresh();
          continue;
        }
        const retriable = err.kind === "unreachable" || IDEMPOTENT.has(op) && (err.kind === "timeout" || err.kind === "connection-lost" || [502, 503, 504].includes(err.status));
        const delay = RETRY_DELAYS_MS[attempt++];
        if (!retriable || delay === void 0) throw err;
        const asked = Math.min((err.retryAfterSeconds ?? 0) * 1e3, MAX_RETRY_AFTER_MS);
        await new Promise((resolve2) => setTimeout(resolve2, Math.max(delay, asked)));
      }
    }
  }
  transportError(err, request) {
    if (err.name === "TimeoutError") {
      return new ApiError(`${this.serverUrl} did not answer ${request} in time`, 0, "timeout");
    }
    const { code: own, cause } = err;
    const code = own ?? cause?.code ?? "";
    if (NEVER_SENT.has(code)) {
      return new ApiError(
        `cannot reach the remote-builder service at ${this.serverUrl} (${code}); check the server URL (server-url, --server or RB_SERVER_URL) and that the service is up`,
        0,
        "unreachable"
      );
    }
    return new ApiError(
      `the connection to ${this.serverUrl} broke during ${request} (${code || cause?.message || err.message})`,
      0,
      "connection-lost"
    );
  }
  async send(method, url, body, token, extraMs) {
    const headers = {
      accept: "application/json, application/problem+json",
      "user-agent": this.options.userAgent ?? "remote-builder-client"
    };
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== void 0) headers["content-type"] = "application/json";
    let response;
    try {
      response = await httpRequest(url, {
        method,
        headers,
        ...body !== void 0 ? { body: JSON.stringify(body) } : {},
        timeoutMs: (this.options.timeoutMs ?? 15e3) + extraMs
      });
    } catch (err) {
      throw this.transportError(err, `${method} ${new URL(url).pathname}`);
    }
    const text = response.text;
    const parsed = parseJson(text);
    if (response.status >= 200 && response.status < 300) return parsed;
    const problem = parsed && typeof parsed === "object" ? parsed : null;
    const type = typeof problem?.type === "string" ? problem.type : "";
    const kind = type.slice(type.lastIndexOf("/") + 1) || `http-${response.status}`;
    const title = typeof problem?.title === "string" ? problem.title : response.statusText;
    const detail = typeof problem?.detail === "string" ? problem.detail : text.slice(0, 300);
    const retryAfter = Number(response.header("retry-after"));
    throw new ApiError(
      `${response.status} ${title}: ${detail}`,
      response.status,
      kind,
      problem,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null
    );
  }
};
var NEVER_SENT = /* @__PURE__ */ new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
function parseJson(text) {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// service/client/keeper.ts
import { spawn as spawn2 } from "node:child_process";
import { constants as constants3, setPriority } from "node:os";
import { appendFileSync as appendFileSync2, existsSync as existsSync2, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
var FINAL = /* @__PURE__ */ new Set(["illegal-transition", "claim-lost", "not-found"]);
async function keepAlive(client, buildId, intervalSeconds, signal, log = () => {
}) {
  while (!signal.aborted) {
    const final = await heartbeatOnce(client, buildId, log);
    if (final) return final;
    await sleep(intervalSeconds * 1e3, void 0, { signal }).catch(() => {
    });
  }
  return "stopped";
}
async function heartbeatOnce(client, buildId, log = () => {
}) {
  try {
    await client.heartbeat(buildId);
    return null;
  } catch (err) {
    if (err instanceof ApiError && FINAL.has(err.kind)) {
      log(`heartbeats stopped: ${err.message}`);
      return err.kind;
    }
    log(`heartbeat failed, retrying: ${err.message}`);
    return null;
  }
}
function spawnKeeper(args, env, logPath) {
  const child2 = spawn2(process.execPath, [...process.execArgv, process.argv[1], ...args], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, ...env, RB_KEEPER_LOG: logPath }
  });
  child2.unref();
  if (child2.pid === void 0) throw new Error("could not start the heartbeat process");
  try {
    setPriority(child2.pid, constants3.priority.PRIORITY_LOW);
  } catch {
  }
  return child2.pid;
}
async function keeperProcess(client, env = process.env) {
  process.on("SIGTERM", () => process.exit(0));
  const interval = Number(env.RB_KEEPER_INTERVAL) || 10;
  await keepAlive(client, env.RB_KEEPER_BUILD ?? "", interval, new AbortController().signal, keeperLog(env));
}
function keeperLog(env = process.env) {
  return (line) => {
    if (env.RB_KEEPER_LOG) appendFileSync2(env.RB_KEEPER_LOG, `${(/* @__PURE__ */ new Date()).toISOString()} ${line}
`);
  };
}
function stopKeeper(pid) {
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync2(cmdline) && !readFileSync(cmdline, "utf8").includes("keep-alive")) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
  }
}

// action/credential.ts
import { readFileSync as readFileSync2 } from "node:fs";

// service/client/github-id-token.ts
async function githubIdToken(audience, env = process.env) {
  if (!env.ACTIONS_ID_TOKEN_REQUEST_URL || !env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) return null;
  const url = new URL(env.ACTIONS_ID_TOKEN_REQUEST_URL);
  url.searchParams.set("audience", audience);
  const response = await httpRequest(url.href, {
    method: "GET",
    headers: { authorization: `Bearer ${env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}` },
    timeoutMs: 15e3
  });
  if (response.status !== 200) {
    throw new Error(`GitHub refused an OIDC token: ${response.status} ${response.text}`);
  }
  return JSON.parse(response.text).value;
}

// action/credential.ts
var PERMISSION_HELP = `The job has no OIDC token to exchange: GitHub only gives one to jobs allowed to ask for it.
Add this to the workflow (or to the job):

permissions:
  id-token: write   # to exchange the job's identity for a remote-builder credential
  contents: read

Or pass an agent token instead: with: { token: \${{ secrets.REMOTE_BUILDER_TOKEN }} }`;
var FORK_HELP = `This is a pull request from a fork, and GitHub gives fork pull requests neither an OIDC token nor
secrets, so this job cannot get a remote builder. Choices:
  - skip the remote builder for forks:
      if: github.event.pull_request.head.repo.full_name == github.repository
    and build with a local builder (docker/setup-buildx-action) there instead;
  - or have a maintainer run the build from a branch of this repository.
Do not switch to pull_request_target to get a token: it would run the fork's code with this repository's
credentials. remote-builder refuses that event unless a trust relationship allows it explicitly.`;
function credentialSource(inputs, initial) {
  if (inputs.token) return staticToken(inputs.token);
  return exchangedToken(() => exchangeJobToken(inputs), initial);
}
async function exchangeJobToken(inputs) {
  const idToken = await githubIdToken(inputs.audience);
  if (!idToken) throw new Error(isForkPullRequest() ? FORK_HELP : PERMISSION_HELP);
  const exchanged = await new ApiClient({ serverUrl: inputs.serverUrl }).exchangeOidcToken(
    idToken,
    inputs.account
  );
  setSecret(exchanged.credential);
  return exchanged.credential;
}
function isForkPullRequest() {
  const event = process.env.GITHUB_EVENT_NAME ?? "";
  if (!event.startsWith("pull_request") || event === "pull_request_target") return false;
  try {
    const payload = JSON.parse(readFileSync2(process.env.GITHUB_EVENT_PATH ?? "", "utf8"));
    const head = payload.pull_request?.head?.repo;
    return head?.fork === true || head?.full_name !== void 0 && head.full_name !== payload.repository?.full_name;
  } catch {
    return false;
  }
}

// action/inputs.ts
function readInputs() {
  const optional = (name) => getInput(name) || void 0;
  const serverUrl = getInput("server-url") || "https://remote-builder.tuist.dev";
  if (!/^https?:\/\/[^\s/]+/.test(serverUrl)) {
    throw new Error(
      `server-url must be an http(s) URL, like https://remote-builder.tuist.dev; got "${serverUrl}"`
    );
  }
  const cache2 = getInput("cache") || "wait";
  if (cache2 !== "wait" && cache2 !== "cold") {
    throw new Error(`cache must be "wait" (for the account's warm cache volume) or "cold"; got "${cache2}"`);
  }
  const token = optional("token");
  if (token) setSecret(token);
  return {
    serverUrl,
    audience: getInput("audience") || "remote-builder",
    token,
    account: optional("account"),
    shape: optional("shape"),
    cache: cache2,
    waitTimeoutSeconds: duration("wait-timeout", getInput("wait-timeout") || "600"),
    name: optional("name"),
    use: flag("use", true),
    cleanup: flag("cleanup", true),
    jobStatus: getInput("job-status") || "success"
  };
}
function duration(input, value) {
  const match = /^(\d+)\s*(s|m)?$/.exec(value.trim());
  if (!match) throw new Error(`${input} must be seconds ("300") or minutes ("5m"); got "${value}"`);
  return Number(match[1]) * (match[2] === "m" ? 60 : 1);
}
function flag(input, fallback) {
  const value = getInput(input).toLowerCase();
  if (value === "") return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new Error(`${input} must be true or false; got "${value}"`);
}

// action/version.ts
var USER_AGENT = "remote-builder-action/1";

// action/keep-alive.ts
async function keepAliveProcess() {
  const inputs = readInputs();
  const auth = credentialSource(inputs, process.env.RB_KEEPER_CREDENTIAL);
  await keeperProcess(new ApiClient({ serverUrl: inputs.serverUrl, auth, userAgent: USER_AGENT }));
}

// action/main.ts
import { tmpdir } from "node:os";
import { join as join4 } from "node:path";

// service/client/docker.ts
import { subscribe, unsubscribe } from "node:diagnostics_channel";
var NOT_ON_PATH = "the docker CLI is not on PATH; install Docker with the buildx plugin (https://docs.docker.com/engine/install/)";
async function docker(args, o) {
  const command = `docker ${args.slice(0, 3).join(" ")}`;
  const stdout = [];
  const stderr = [];
  const said = () => (Buffer.concat(stderr).toString() || Buffer.concat(stdout).toString()).trim().slice(-600);
  const children = [];
  const onChild = (message) => children.push(message.process);
  const ours = () => children.find((child2) => sameArgs(child2.spawnargs?.slice(1) ?? [], args));
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      ours()?.kill("SIGKILL");
      const tail = said();
      const seconds2 = Math.round(o.timeoutMs / 1e3);
      reject(new Error(`\`${command}\` did not finish within ${seconds2} s${tail ? `: ${tail}` : ""}`));
    }, o.timeoutMs);
  });
  subscribe("child_process", onChild);
  try {
    const run2 = exec("docker", args, {
      ignoreReturnCode: true,
      silent: !o.output,
      ...o.output ? { outStream: o.output, errStream: o.output } : {},
      listeners: { stdout: (chunk) => stdout.push(chunk), stderr: (chunk) => stderr.push(chunk) }
    }).catch((err) => {
      throw new Error(ours() ? `cannot run docker: ${err.message}` : NOT_ON_PATH);
    });
    const code = await Promise.race([run2, deadline]);
    if (code !== 0) throw new Error(`\`${command}\` exited with ${code}: ${said()}`);
    return { code, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() };
  } finally {
    clearTimeout(timer);
    unsubscribe("child_process", onChild);
  }
}
function sameArgs(a, b) {
  return a.length === b.length && a.every((arg, i) => arg === b[i]);
}
function buildxCreateArgs(o) {
  return [
    "buildx",
    "create",
    "--name",
    o.name,
    "--driver",
    "remote",
    "--driver-opt",
    `cacert=${o.caPath},cert=${o.certPath},key=${o.keyPath},servername=${o.serverName}`,
    ...o.use ? ["--use"] : [],
    o.endpoint
  ];
}
var buildxBootstrapArgs = (name) => ["buildx", "inspect", "--bootstrap", name];
var buildxRmArgs = (name) => ["buildx", "rm", name];

// service/client/insights.ts
import { setTimeout as sleep2 } from "node:timers/promises";
function insightsPending(build) {
  return build.insights === null && build.endedAt !== null && build.readyAt !== null;
}
async function withInsights(client, build, timeoutMs = 12e3, pollMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let current = build;
  while (insightsPending(current) && Date.now() < deadline) {
    await sleep2(pollMs);
    current = await client.getBuild(build.id).catch(() => current);
  }
  return current;
}

// service/client/keys.ts
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join as join3 } from "node:path";
function createKeyFiles(parent) {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join3(parent, "remote-builder-"));
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const keyPath = join3(dir, "key.pem");
  writeFileSync(keyPath, privateKeyPem, { mode: 384 });
  return {
    dir,
    keyPath,
    certPath: join3(dir, "cert.pem"),
    caPath: join3(dir, "ca.pem"),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
    privateKeyPem
  };
}
function writeCertificates(files, certificatePem, caPem) {
  writeFileSync(files.certPath, certificatePem, { mode: 384 });
  writeFileSync(files.caPath, caPem, { mode: 384 });
}
function removeKeyFiles(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// service/client/wait.ts
var POLL_SECONDS = 10;
var TERMINAL = /* @__PURE__ */ new Set(["completed", "failed", "expired", "reaped"]);
function progressLine(build, elapsedSeconds) {
  const after = `(${elapsedSeconds.toFixed(0)} s)`;
  if (build.state === "queued" && build.queue) {
    const ahead = Math.max(0, build.queue.position - 1);
    return build.queue.waitingFor === "concurrency" ? `Queued: the account runs as many builds as its plan allows; ${ahead} build(s) ahead of this one ${after}` : `Queued: another build holds the cache volume "${build.cache.volume}"; ${ahead} build(s) ahead ${after}`;
  }
  if (build.state === "queued") return `Queued ${after}`;
  if (build.state === "pending") {
    const tier = build.tier ?? "new";
    return `Booting ${tier === "idle" ? "an" : "a"} ${tier} builder (shape ${build.shape}) ${after}`;
  }
  return `Build ${build.state} ${after}`;
}
async function waitUntilReady(client, created, timeoutSeconds, log, startedAt = Date.now()) {
  const deadline = startedAt + timeoutSeconds * 1e3;
  let build = created;
  let said = "";
  let saidAt = 0;
  let lastQueue = created.queue;
  const timedOut = () => new ApiError(
    `the builder was not ready within ${timeoutSeconds} s (the build is ${build.state === "failed" ? "queued" : build.state}${lastQueue ? `, position ${lastQueue.position} in the queue` : ""}); raise the wait timeout` + (lastQueue?.waitingFor === "cache" ? ", or ask for a cold cache (cache: cold, --cache cold) rather than wait for the volume" : ""),
    0,
    "wait-timeout"
  );
  for (; ; ) {
    if (build.state === "ready" || build.state === "building") return build;
    if (build.state === "failed" && build.endReason === "wait-timeout") throw timedOut();
    if (TERMINAL.has(build.state)) {
      throw new ApiError(
        `the build ${build.id} ${build.state} before it was ready: ${build.endReason ?? "no reason given"}`,
        0,
        "build-ended"
      );
    }
    if (build.queue) lastQueue = build.queue;
    const now = Date.now();
    const where = `${build.state}:${build.queue?.waitingFor ?? ""}:${build.queue?.position ?? ""}`;
    if (where !== said || now - saidAt >= 3e4) {
      log(progressLine(build, (now - startedAt) / 1e3));
      said = where;
      saidAt = now;
    }
    const left = Math.ceil((deadline - now) / 1e3);
    if (left <= 0) throw timedOut();
    build = await client.getBuild(build.id, Math.min(left, POLL_SECONDS));
  }
}

// service/client/session.ts
var ungrouped = (_name, stage) => stage();
async function setUp(client, o) {
  const group2 = o.group ?? ungrouped;
  const startedAt = Date.now();
  const keys = createKeyFiles(o.keyParent);
  o.onSecret?.(keys.privateKeyPem);
  const state = {
    buildId: null,
    name: o.name ?? "",
    keyDir: keys.dir,
    builderCreated: false,
    startedAt,
    readySeconds: null
  };
  o.onState(state);
  const beating = new AbortController();
  try {
    const { ready, readySeconds } = await group2("Waiting for a builder", async () => {
      const created = await client.createBuild({
        ...o.shape ? { shape: o.shape } : {},
        cache: o.cache,
        waitSeconds: o.waitTimeoutSeconds,
        labels: o.labels,
        publicKey: keys.publicKeyPem
      });
      state.buildId = created.id;
      state.name = o.name ?? `remote-builder-${created.id.slice(0, 8)}`;
      o.onState(state);
      o.log(
        created.state === "queued" ? `Build ${created.id} queued (shape ${created.shape}); waiting for ${created.queue?.waitingFor === "cache" ? "the cache volume" : "a concurrency slot"}` : `Build ${created.id} admitted (shape ${created.shape}, cache ${describeCache(created)})`
      );
      void keepAlive(client, created.id, created.heartbeatIntervalSeconds, beating.signal);
      const build = await waitUntilReady(client, created, o.waitTimeoutSeconds, o.log, startedAt);
      const seconds2 = (Date.now() - startedAt) / 1e3;
      o.log(
        `Builder ready in ${seconds2.toFixed(1)} s (${build.tier ?? "unknown"} tier, shape ${build.shape})`
      );
      return { ready: build, readySeconds: seconds2 };
    });
    state.readySeconds = readySeconds;
    await group2("Setting up docker buildx", async () => {
      if (!ready.certificate) throw new Error("the service returned no client certificate for the build");
      writeCertificates(keys, ready.certificate, ready.broker.caCertificate);
      const args = buildxCreateArgs({
        name: state.name,
        endpoint: ready.broker.endpoint,
        serverName: ready.broker.serverName,
        caPath: keys.caPath,
        certPath: keys.certPath,
        keyPath: keys.keyPath,
        use: o.use
      });
      await docker(args, { timeoutMs: 3e4, output: o.dockerOutput });
      state.builderCreated = true;
      o.onState(state);
      const bootstrap = { timeoutMs: o.bootstrapTimeoutSeconds * 1e3, output: o.dockerOutput };
      await docker(buildxBootstrapArgs(state.name), bootstrap).catch((err) => {
        throw new Error(
          `the builder did not answer through the broker at ${ready.broker.endpoint}: ${err.message}`
        );
      });
      o.log(`docker buildx builder "${state.name}" is ready${o.use ? " and in use" : ""}`);
    });
    return { build: ready, state, endpoint: ready.broker.endpoint, readySeconds };
  } finally {
    beating.abort();
  }
}
async function tearDown(client, state, result, o) {
  const warnings = [];
  const removed = o.cleanup && state.builderCreated ? docker(buildxRmArgs(state.name), { timeoutMs: 3e4, output: o.dockerOutput }).then(
    () => `Removed docker buildx builder "${state.name}"`,
    (err) => {
      warnings.push(`could not remove the buildx builder "${state.name}": ${err.message}`);
      return null;
    }
  ) : null;
  const completed = state.buildId ? await completeBuild(client, state.buildId, result, warnings, o.log) : null;
  const build = completed && await withInsights(client, completed);
  const volume = build && build.cache.mode === "persistent" ? (await client.listCacheVolumes(build.accountId).catch(() => [])).find(
    (v) => v.name === build.cache.volume
  ) ?? null : null;
  const removal = await removed;
  if (removal) o.log(removal);
  removeKeyFiles(state.keyDir);
  return { build, volume, warnings };
}
async function completeBuild(client, buildId, result, warnings, log) {
  const build = await client.complete(buildId, result).catch(async (err) => {
    if (err instanceof ApiError && err.kind === "illegal-transition") {
      const ended = await client.getBuild(buildId).catch(() => null);
      warnings.push(`the build had already ended (${ended?.state ?? "unknown"}: ${ended?.endReason ?? "?"})`);
      return ended;
    }
    warnings.push(`could not complete build ${buildId}: ${err.message}`);
    return null;
  });
  if (build?.state === "completed") log(`Build ${build.id} completed as ${build.result}`);
  if (build?.state === "completed" && build.result !== result) {
    warnings.push(`the build had already been completed as ${build.result}, not ${result}`);
  }
  return build;
}
function jobResult(status) {
  const word = status.trim().toLowerCase();
  if (word === "success") return "success";
  if (["failure", "failed", "unstable"].includes(word)) return "failure";
  if (["cancelled", "canceled", "aborted"].includes(word)) return "cancelled";
  return null;
}
function describeCache(build) {
  if (build.cache.mode === "cold") return `cold: ${build.cache.reason ?? "no warm cache"}`;
  if (build.cache.mode === "persistent") {
    return `volume "${build.cache.volume}"${build.cache.reason ? `; ${build.cache.reason}` : ""}`;
  }
  return `waiting for volume "${build.cache.volume}"`;
}

// action/state.ts
var KEYS = {
  buildId: "build-id",
  name: "builder-name",
  keyDir: "key-dir",
  builderCreated: "builder-created",
  startedAt: "started-at",
  readySeconds: "ready-seconds",
  keeperPid: "keeper-pid"
};
var IS_POST = "is-post";
var isPost = () => getState(IS_POST) === "true";
var saveIsPost = () => saveState(IS_POST, "true");
function saveState2(state, save = saveState) {
  for (const [field, key] of Object.entries(KEYS)) {
    save(key, String(state[field] ?? ""));
  }
}
function readState(get = getState) {
  const keyDir = get(KEYS.keyDir);
  if (!keyDir) return null;
  const number = (key, what, check) => {
    const value = get(key);
    if (value === "") return null;
    if (!check(Number(value))) throw new Error(`the saved state's ${key} is "${value}", not ${what}`);
    return Number(value);
  };
  const builderCreated = get(KEYS.builderCreated);
  if (builderCreated !== "true" && builderCreated !== "false") {
    throw new Error(`the saved state's ${KEYS.builderCreated} is "${builderCreated}", not true or false`);
  }
  const name = get(KEYS.name);
  if (builderCreated === "true" && !name) {
    throw new Error(`the saved state has a buildx builder but no ${KEYS.name}`);
  }
  const startedAt = number(KEYS.startedAt, "a time in milliseconds", Number.isSafeInteger);
  if (startedAt === null) throw new Error(`the saved state has no ${KEYS.startedAt}`);
  return {
    buildId: get(KEYS.buildId) || null,
    name,
    keyDir,
    builderCreated: builderCreated === "true",
    startedAt,
    readySeconds: number(KEYS.readySeconds, "seconds", (n) => Number.isFinite(n) && n >= 0),
    keeperPid: number(KEYS.keeperPid, "a process id", (n) => Number.isSafeInteger(n) && n > 0)
  };
}

// action/main.ts
async function main() {
  saveIsPost();
  const inputs = readInputs();
  const auth = credentialSource(inputs);
  await group("Getting a credential", async () => {
    info(
      inputs.token ? "Using the agent token (the token input)" : `Exchanging the job's OIDC token (audience ${inputs.audience}) at ${inputs.serverUrl}`
    );
    await auth.token();
  });
  const client = new ApiClient({ serverUrl: inputs.serverUrl, auth, userAgent: USER_AGENT });
  const { build, state, endpoint } = await setUp(client, {
    shape: inputs.shape,
    cache: inputs.cache,
    waitTimeoutSeconds: inputs.waitTimeoutSeconds,
    name: inputs.name,
    use: inputs.use,
    labels: githubLabels(),
    keyParent: process.env.RUNNER_TEMP || tmpdir(),
    bootstrapTimeoutSeconds: 60,
    log: (line) => info(line),
    group,
    dockerOutput: process.stdout,
    onState: (session) => saveState2({ ...session, keeperPid: null }),
    // The runner masks line by line, so each line of the PEM is its own secret.
    onSecret: (pem) => pem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----")).forEach(setSecret)
  });
  const pid = spawnKeeper(
    ["keep-alive"],
    {
      RB_KEEPER_BUILD: build.id,
      RB_KEEPER_INTERVAL: String(build.heartbeatIntervalSeconds),
      RB_KEEPER_CREDENTIAL: await auth.token()
    },
    join4(state.keyDir, "heartbeats.log")
  );
  saveState2({ ...state, keeperPid: pid });
  setOutput("name", state.name);
  setOutput("build-id", build.id);
  setOutput("endpoint", endpoint);
  setOutput("tier", build.tier ?? "");
  setOutput("prewarmed", String(build.prewarmed));
  setOutput("cache-volume", build.cache.mode === "persistent" ? build.cache.volume : "");
  if (inputs.use) exportVariable("BUILDX_BUILDER", state.name);
}
function githubLabels() {
  const env = process.env;
  const labels = {
    "github.repository": env.GITHUB_REPOSITORY,
    "github.workflow": env.GITHUB_WORKFLOW,
    "github.job": env.GITHUB_JOB,
    "github.run_id": env.GITHUB_RUN_ID,
    "github.run_attempt": env.GITHUB_RUN_ATTEMPT,
    "github.sha": env.GITHUB_SHA
  };
  return Object.fromEntries(
    Object.entries(labels).filter((e) => e[1] !== void 0 && e[1] !== "")
  );
}

// action/post.ts
import { existsSync as existsSync3, readFileSync as readFileSync3 } from "node:fs";
import { join as join5 } from "node:path";

// service/client/units.ts
function seconds(s) {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// service/client/insights-line.ts
var SLOWEST_SHOWN = 3;
function insightsLine(insights) {
  if (insights.status === "unavailable") return `not available (${insights.reason ?? "unknown"})`;
  if (insights.solves === 0) return "no builds ran";
  const parts = [`${count(insights.steps, "step")}, ${insights.cachedSteps} cached${ratio(insights)}`];
  const slowest = insights.slowest.filter((s) => s.seconds >= 0.1).slice(0, SLOWEST_SHOWN).map((s) => `${stepName(s.name)} ${seconds(s.seconds)}`);
  if (slowest.length > 0) parts.push(`slowest: ${slowest.join(", ")}`);
  if (insights.solves > 1) parts.push(`${insights.solves} builds`);
  if (insights.errors.length > 0)
    parts.push(`${count(insights.errors.length, "error")}: ${insights.errors[0]}`);
  return parts.join("; ");
}
function stepName(name) {
  return name.replace(/^\[[^\]]*\d+\/\d+\]\s+/, "");
}
function ratio({ cacheHitRatio }) {
  if (cacheHitRatio === null) return "";
  return ` (${Math.floor(cacheHitRatio * 100)}%)`;
}
function count(n, noun) {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

// service/client/tier.ts
function tierLine(build) {
  if (build.tier === null) return null;
  return build.prewarmed ? "idle, prewarmed (started when the CI queued the job)" : build.tier;
}

// action/summary.ts
async function writeSummary(build, volume, session, warnings) {
  const at = (iso) => iso === null ? null : Date.parse(iso);
  const created = at(build.createdAt);
  const admitted = at(build.admittedAt);
  const ended = at(build.endedAt);
  const rows = [
    ["Build", `\`${build.id}\``],
    [
      "Result",
      `${build.state}${build.result ? ` (${build.result})` : ""}${build.endReason ? `: ${build.endReason}` : ""}`
    ],
    ["Shape", build.shape],
    ["Tier", tierLine(build) ?? "\u2014"],
    ["Time to ready", session.readySeconds === null ? "\u2014" : seconds(session.readySeconds)],
    ["Queue wait", admitted === null ? "\u2014" : seconds((admitted - created) / 1e3)],
    ["Duration", ended === null ? "\u2014" : seconds((ended - created) / 1e3)],
    ["Through the broker", `${bytes(build.bytesIn)} sent, ${bytes(build.bytesOut)} received`],
    ["Cache", cache(build, volume)]
  ];
  if (build.insights) rows.push(["Build steps", escapeHtml(insightsLine(build.insights))]);
  let summary2 = summary.addHeading("Remote builder", 3).addTable([
    [
      { data: "", header: true },
      { data: "", header: true }
    ],
    ...rows.map(([k, v]) => [k, v])
  ]);
  if (warnings.length > 0) summary2 = summary2.addList(warnings.map((w) => `\u26A0\uFE0F ${w}`));
  await summary2.write();
}
function cache(build, volume) {
  if (build.cache.mode === "cold") return `cold builder: ${build.cache.reason ?? "no warm cache"}`;
  const why = build.cache.reason ? ` (${build.cache.reason})` : "";
  if (volume) return `volume \`${volume.name}\`, ${volume.sizeGiB} GiB${why}`;
  return `volume \`${build.cache.volume}\`${why}`;
}
function escapeHtml(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// action/post.ts
async function post() {
  const session = readState();
  if (!session) {
    info("remote-builder set nothing up in this job, so there is nothing to clean up");
    return;
  }
  if (session.keeperPid) stopKeeper(session.keeperPid);
  const heartbeats = join5(session.keyDir, "heartbeats.log");
  const heartbeatLog = existsSync3(heartbeats) ? readFileSync3(heartbeats, "utf8") : "";
  const inputs = readInputs();
  const client = new ApiClient({
    serverUrl: inputs.serverUrl,
    auth: credentialSource(inputs),
    userAgent: USER_AGENT
  });
  const result = resultOf(inputs.jobStatus);
  const { build, volume, warnings } = await group(
    heading(session, inputs.cleanup),
    () => tearDown(client, session, result, {
      cleanup: inputs.cleanup,
      log: (line) => info(line),
      dockerOutput: process.stdout
    })
  );
  const stopped = heartbeatLog.split("\n").find((line) => line.includes("heartbeats stopped"));
  if (stopped) warnings.push(stopped.replace(/^\S+ /, ""));
  for (const warning2 of warnings) warning(warning2);
  if (build && process.env.GITHUB_STEP_SUMMARY) await writeSummary(build, volume, session, warnings);
}
function heading(session, cleanup) {
  if (!session.buildId) return "Removing the key files";
  if (cleanup && session.builderCreated) return "Handing the builder back and removing it";
  return "Handing the builder back";
}
function resultOf(status) {
  const result = jobResult(status);
  if (result) return result;
  warning(`job-status "${status}" is not success, failure or cancelled; reporting failure`);
  return "failure";
}

// action/index.ts
async function run() {
  if (process.argv[2] === "keep-alive") return keepAliveProcess();
  if (isPost()) {
    try {
      await post();
    } catch (err) {
      warning(`remote-builder cleanup: ${err.message}`);
    }
    return;
  }
  try {
    await main();
  } catch (err) {
    const hint = err instanceof ApiError && err.retryAfterSeconds ? ` (retry after ${err.retryAfterSeconds} s)` : "";
    setFailed(`remote-builder: ${err.message}${hint}`);
  }
}
await run();
process.stdout.write("", () => process.exit());
