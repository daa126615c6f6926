// Data files: MD5 in a Web Worker, announce, PUT straight to S3 with the
// presigned URL, confirm. Keeps every pending file's state for the files table.

import { ApiError } from "./api.js";
import { showAlert } from "./dom.js";
import { forgetUpload, MULTIPART_THRESHOLD, rememberedUpload, transferInParts } from "./parts.js";

const PARALLEL_UPLOADS = 3;
const SPEED_WINDOW_MS = 5000;

/** One Web Worker that hashes files one after the other. */
class Hasher {
  constructor() {
    this.worker = new Worker(new URL("./md5-worker.js", import.meta.url));
    this.jobs = new Map();
    this.next = 0;
    this.queue = Promise.resolve();
    this.worker.onmessage = (event) => {
      const { job, type } = event.data;
      const handlers = this.jobs.get(job);
      if (!handlers) return;
      if (type === "progress") handlers.progress(event.data.done);
      else {
        this.jobs.delete(job);
        if (type === "done") handlers.resolve(event.data.md5);
        else handlers.reject(new Error(`The file could not be read: ${event.data.message}`));
      }
    };
  }

  /** The file's MD5 as hex; `progress(bytesDone)` while hashing; `started()` when its turn comes. */
  md5(file, { started, progress }) {
    const run = () =>
      new Promise((resolve, reject) => {
        const job = this.next++;
        this.jobs.set(job, { resolve, reject, progress });
        started();
        this.worker.postMessage({ job, file });
      });
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

/** At most `limit` tasks at once. */
class Slots {
  constructor(limit) {
    this.free = limit;
    this.waiting = [];
  }

  async run(task) {
    if (this.free === 0) await new Promise((resolve) => this.waiting.push(resolve));
    else this.free -= 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}

function putToStorage(entry, upload, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    entry.xhr = xhr;
    xhr.open("PUT", upload.urlToUpload);
    for (const [name, value] of Object.entries(upload.requestHeaders || {})) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      entry.xhr = null;
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve();
      } else if (xhr.status === 400) {
        reject(new Error("The storage refused the data: it does not match the checksum."));
      } else if (xhr.status === 403) {
        reject(new Error("The storage refused the upload link (expired?)."));
      } else {
        reject(new Error(`The storage answered ${xhr.status}.`));
      }
    };
    xhr.onerror = () => {
      entry.xhr = null;
      reject(new Error("The connection to the storage failed."));
    };
    xhr.onabort = () => {
      entry.xhr = null;
      reject(new Error("The upload was cancelled."));
    };
    xhr.send(entry.file);
  });
}

let localKeys = 0;

export class Uploads {
  /**
   * `onChange(structural)`: state changed (structural: states or entries, not just progress);
   * `onCompleted()`: an upload in parts completed and is verified in the background now.
   */
  constructor(api, onChange, onCompleted = () => {}) {
    this.api = api;
    this.onChange = onChange;
    this.onCompleted = onCompleted;
    this.entries = [];
    this.hasher = null;
    this.slots = new Slots(PARALLEL_UPLOADS);
    this.samples = [];
    this.batchEntries = new Set();
  }

  /**
   * Files from `GET /users/{id}/pending_files`, each with its `verification` (from
   * `GET /files/{id}/verification`); uploads under way are kept as they are.
   */
  setPending(files) {
    const local = new Map(this.entries.filter((entry) => entry.id).map((entry) => [entry.id.uuid, entry]));
    // Kept as well: uploads the listing does not show yet (announced after it was
    // made) and failed ones never announced, which a retry may still save.
    const listed = new Set(files.map((file) => file.id.uuid));
    const busy = this.entries.filter(
      (entry) =>
        (!entry.id || !listed.has(entry.id.uuid)) &&
        (this.active(entry) || (!entry.id && entry.state === "failed")),
    );
    const fromServer = files.map((file) => {
      const known = local.get(file.id.uuid);
      if (known && (this.active(known) || known.state === "failed")) return known;
      return {
        key: file.id.uuid,
        id: file.id,
        name: file.name,
        size: file.filesize,
        checksum: file.checksum,
        sha256: file.verification?.sha256 ?? null,
        verification: file.verification ?? null,
        state: pendingState(file),
        hashed: 0,
        sent: file.contentUploaded ? file.filesize : 0,
        error: null,
        file: known?.file ?? null,
        xhr: null,
      };
    });
    this.entries = [...fromServer, ...busy];
    this.onChange(true);
  }

  active(entry) {
    return ["queued", "hashing", "announcing", "uploading", "confirming"].includes(entry.state);
  }

  add(fileList) {
    for (const file of fileList) {
      const entry = {
        key: `local-${++localKeys}`,
        id: null,
        name: file.name,
        size: file.size,
        checksum: null,
        state: "queued",
        hashed: 0,
        sent: 0,
        error: null,
        file,
        xhr: null,
      };
      this.entries.push(entry);
      this.process(entry);
    }
    this.onChange(true);
  }

  retry(key) {
    const entry = this.entries.find((candidate) => candidate.key === key);
    if (entry && entry.file && entry.state === "failed") this.process(entry);
  }

  /** Resume an incomplete file from an earlier visit with the same bytes chosen again. */
  adopt(entry, incomplete) {
    incomplete.file = entry.file;
    incomplete.size = entry.file.size;
    this.entries = this.entries.filter((candidate) => candidate !== entry);
    return incomplete;
  }

  async process(entry) {
    entry.error = null;
    this.batchEntries.add(entry);
    try {
      if (entry.file && entry.file.size > MULTIPART_THRESHOLD) {
        // Large files: in parts, hashed while they upload; an earlier upload resumes.
        const earlier = !entry.id && rememberedUpload(entry.file);
        const listed = earlier && this.entries.find((other) => other.id?.uuid === earlier);
        if (listed && listed !== entry) {
          entry = this.adopt(entry, listed);
          this.batchEntries.add(entry);
        }
        await this.slots.run(() => transferInParts(this, entry));
        return;
      }
      if (!entry.checksum) await this.hash(entry);
      if (entry.cancelled) return;
      if (!entry.id) {
        const twin = this.entries.find(
          (other) =>
            other !== entry && other.id && other.name === entry.name && other.checksum === entry.checksum,
        );
        if (twin?.state === "uploaded") {
          // The same bytes under the same name are here already: nothing to do.
          this.entries = this.entries.filter((candidate) => candidate !== entry);
          this.onChange(true);
          showAlert(
            "info",
            `${entry.name} is uploaded already (same name and checksum); it was not uploaded again.`,
          );
          return;
        }
        if (twin?.state === "incomplete") {
          entry = this.adopt(entry, twin);
          this.batchEntries.add(entry);
        }
      }
      await this.slots.run(() => this.transfer(entry));
    } catch (error) {
      if (entry.cancelled) return;
      entry.state = "failed";
      entry.error = error instanceof ApiError ? error.message : String(error.message || error);
      this.onChange(true);
    }
  }

  async hash(entry) {
    this.hasher ??= new Hasher();
    entry.state = "queued";
    entry.checksum = await this.hasher.md5(entry.file, {
      started: () => {
        entry.state = "hashing";
        this.onChange(true);
      },
      progress: (done) => {
        entry.hashed = done;
        this.onChange(false);
      },
    });
    entry.hashed = entry.size;
    entry.state = "queued"; // until an upload slot is free
    this.onChange(true);
  }

  async transfer(entry) {
    let upload;
    if (entry.id) {
      entry.state = "announcing";
      this.onChange(true);
      upload = await this.api.post(`/files/${entry.id.uuid}/upload-url`);
    } else {
      entry.state = "announcing";
      this.onChange(true);
      upload = await this.api.post(
        "/files",
        { name: entry.name, checksum: entry.checksum },
        { directUpload: true },
      );
      entry.id = upload.id;
      if (entry.cancelled) {
        // Deleted while it was being announced: leave nothing behind.
        await this.api.post("/rpc/delete-files", { fileIds: [entry.id.uuid] });
        return;
      }
    }
    entry.state = "uploading";
    entry.sent = 0;
    this.onChange(true);
    await putToStorage(entry, upload, (loaded) => {
      entry.sent = loaded;
      this.sample();
      this.onChange(false);
    });
    entry.sent = entry.size;
    entry.state = "confirming";
    this.onChange(true);
    try {
      const confirmed = await this.api.put(`/files/${entry.id.uuid}`, { contentUploaded: true });
      entry.size = confirmed.filesize;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        throw new Error("The stored data does not match the file's checksum.", { cause: error });
      }
      throw error;
    }
    entry.state = "uploaded";
    entry.file = null; // the bytes are stored; let the browser forget them
    this.onChange(true);
  }

  /** Forget entries (after the API deleted them, or before they were announced). */
  remove(keys) {
    const doomed = new Set(keys);
    for (const entry of this.entries) {
      if (!doomed.has(entry.key)) continue;
      entry.cancelled = true;
      if (entry.xhr) entry.xhr.abort();
      for (const xhr of entry.xhrs || []) xhr.abort();
      if (entry.multipart && entry.file) forgetUpload(entry.file);
    }
    this.entries = this.entries.filter((entry) => !doomed.has(entry.key));
    this.onChange(true);
  }

  sample() {
    const now = performance.now();
    this.samples.push([now, this.batchSent()]);
    while (this.samples.length > 2 && now - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
  }

  /** Bytes of the current batch that have reached the storage. */
  batchSent() {
    let sent = 0;
    for (const entry of this.batchEntries) {
      if (entry.state === "uploaded" || entry.state === "confirming") sent += entry.size || 0;
      else if (entry.state === "uploading") sent += entry.sent;
    }
    return sent;
  }

  /** Bytes per second over the last few seconds. */
  speed() {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  /** Where the current batch of uploads stands (null when none is under way). */
  batch() {
    const working = this.entries.filter((entry) => this.active(entry));
    if (!working.length) {
      // The batch is over: the next files start a new one.
      this.batchEntries = new Set();
      this.samples = [];
      return null;
    }
    const members = [...this.batchEntries].filter((entry) => this.entries.includes(entry));
    return {
      files: members.length,
      finished: members.filter((entry) => entry.state === "uploaded").length,
      hashing: working.filter((entry) => !entry.checksum).length,
      failed: members.filter((entry) => entry.state === "failed").length,
      total: members.reduce((sum, entry) => sum + (entry.size || 0), 0),
      sent: this.batchSent(),
      speed: this.speed(),
    };
  }
}

/** How a listed file stands: files uploaded in parts are verified in the background. */
function pendingState(file) {
  if (file.contentUploaded) return "uploaded";
  if (file.verification?.state === "verifying") return "verifying";
  if (file.verification?.state === "failed") return "rejected";
  return "incomplete";
}
