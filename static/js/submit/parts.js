// Large files go to S3 in parts (the API's /multipart-uploads): 4 parts in
// flight, each signed with its MD5 computed in a Web Worker while the upload
// runs, failed parts retried with backoff. A reload or a lost connection loses
// nothing S3 holds: the upload is remembered by the file's name, size and
// modification time, and dropping the same file again sends only missing parts.

import { ApiError } from "./api.js";

export const MULTIPART_THRESHOLD = 64 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;
const URLS_PER_REQUEST = 100; // the API's limit: few requests per GiB
const PARTS_PER_GROUP = 8; // parts hashed before their URLs are asked for (but see below)
const ATTEMPTS = 6;
const STORE = "datameta.multipartUploads";

function fileKey(file) {
  return `${file.name}|${file.size}|${file.lastModified}`;
}

function stored() {
  try {
    return JSON.parse(window.localStorage.getItem(STORE) || "{}");
  } catch {
    return {};
  }
}

/** The file id of an earlier upload of the same file (name, size, modification time). */
export function rememberedUpload(file) {
  return stored()[fileKey(file)] ?? null;
}

function remember(file, fileUuid) {
  const all = stored();
  if (fileUuid) all[fileKey(file)] = fileUuid;
  else delete all[fileKey(file)];
  window.localStorage.setItem(STORE, JSON.stringify(all));
}

export function forgetUpload(file) {
  remember(file, null);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function putPart(entry, url, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    entry.xhrs.add(xhr);
    const done = (settle) => {
      entry.xhrs.delete(xhr);
      settle();
    };
    xhr.open("PUT", url.url);
    for (const [name, value] of Object.entries(url.requestHeaders || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () =>
      done(() => {
        if (xhr.status >= 200 && xhr.status < 300) resolve();
        else {
          const error = new Error(`The storage answered ${xhr.status} for part ${url.partNumber}.`);
          error.status = xhr.status;
          reject(error);
        }
      });
    xhr.onerror = () => done(() => reject(new Error("The connection to the storage failed.")));
    xhr.onabort = () => done(() => reject(new Error("The upload was cancelled.")));
    xhr.send(blob);
  });
}

/** `action()` with up to ATTEMPTS tries, waiting 1, 2, 4 ... s; API refusals (4xx) are final. */
async function retrying(entry, action) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await action(attempt);
    } catch (error) {
      const final = error instanceof ApiError && error.status >= 400 && error.status < 500;
      if (final || entry.cancelled || attempt >= ATTEMPTS - 1) throw error;
      await sleep(1000 * 2 ** attempt);
    }
  }
}

/** Upload `entry.file` in parts; resumes the upload remembered for the same file. */
export async function transferInParts(uploads, entry) {
  const { api } = uploads;
  const file = entry.file;
  entry.multipart = true;
  entry.xhrs = new Set();
  entry.state = "announcing";
  uploads.onChange(true);
  let upload = null;
  const known = entry.id?.uuid ?? rememberedUpload(file);
  if (known) {
    try {
      upload = await api.get(`/multipart-uploads/${known}`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }
  }
  if (!upload) {
    upload = await api.post("/multipart-uploads", { name: entry.name, size: file.size });
    remember(file, upload.fileId.uuid);
  }
  entry.id = upload.fileId;
  const path = `/multipart-uploads/${upload.fileId.uuid}`;
  const held = new Map((upload.parts || []).map((part) => [part.partNumber, part.etag.replaceAll('"', "")]));
  const partSize = upload.partSize;
  const bytesOf = (number) => Math.min(partSize, file.size - (number - 1) * partSize);

  entry.state = "uploading";
  entry.sent = 0;
  entry.partsSkipped = 0;
  entry.skippedBytes = 0;
  entry.startedAt = performance.now();
  uploads.onChange(true);
  const loading = new Map();
  let finished = 0;
  const progress = () => {
    let moving = 0;
    for (const bytes of loading.values()) moving += bytes;
    entry.sent = finished + moving;
    uploads.sample();
    uploads.onChange(false);
  };

  const md5s = new Map();
  const queue = []; // hashed, not signed yet
  let whole = null;
  let hashError = null;
  let wake = null;
  const hasher = new Worker(new URL("./part-md5-worker.js", import.meta.url));
  hasher.onmessage = (event) => {
    const message = event.data;
    if (message.type === "part") {
      md5s.set(message.number, message.md5);
      if (held.get(message.number) === message.md5) {
        // S3 holds this part already, with these very bytes.
        finished += bytesOf(message.number);
        entry.partsSkipped += 1;
        entry.skippedBytes += bytesOf(message.number);
        progress();
      } else queue.push(message.number);
    } else if (message.type === "done") whole = message.md5;
    else hashError = new Error(`The file could not be read: ${message.message}`);
    if (wake) wake();
  };
  hasher.postMessage({ file, partSize });

  const sendPart = async (first) => {
    const number = first.partNumber;
    const start = (number - 1) * partSize;
    const blob = file.slice(start, start + bytesOf(number));
    let url = first;
    await retrying(entry, async (attempt) => {
      if (attempt > 0) {
        // A fresh URL: the old one may have expired.
        const parts = [{ partNumber: number, md5: md5s.get(number) }];
        [url] = (await api.post(`${path}/part-urls`, { parts })).parts;
      }
      try {
        await putPart(entry, url, blob, (bytes) => {
          loading.set(number, bytes);
          progress();
        });
      } finally {
        loading.delete(number);
      }
    });
    finished += blob.size;
    progress();
  };

  // URLs are asked for in groups, not part by part: when the senders are about to
  // run out of signed parts and a group has been hashed (the first group fills the
  // senders; later ones are larger, as hashing is usually slower than sending), or
  // when the hashing is done. Each request costs the site about as much as a
  // hundred more URLs in it would.
  const signed = []; // URLs of parts not sent yet
  const running = new Set();
  let sendError = null;
  let groups = 0;
  try {
    for (;;) {
      if (entry.cancelled) return;
      if (hashError) throw hashError;
      if (sendError) throw sendError;
      const group = groups === 0 ? PARTS_IN_FLIGHT : PARTS_PER_GROUP;
      if (queue.length && signed.length < PARTS_IN_FLIGHT && (queue.length >= group || whole !== null)) {
        const ready = queue.splice(0, URLS_PER_REQUEST).map((number) => ({ partNumber: number, md5: md5s.get(number) }));
        const urls = await retrying(entry, () => api.post(`${path}/part-urls`, { parts: ready }));
        groups += 1;
        signed.push(...urls.parts);
        continue;
      }
      if (signed.length && running.size < PARTS_IN_FLIGHT) {
        const task = sendPart(signed.shift())
          .catch((error) => {
            sendError = sendError ?? error;
          })
          .finally(() => {
            running.delete(task);
            if (wake) wake();
          });
        running.add(task);
        continue;
      }
      if (whole !== null && !queue.length && !signed.length && !running.size) break;
      // Wait for the next hashed part or the next part sent.
      await new Promise((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
  } catch (error) {
    for (const xhr of entry.xhrs) xhr.abort();
    throw error;
  } finally {
    hasher.terminate();
  }
  if (entry.cancelled) return;
  entry.state = "confirming";
  uploads.onChange(true);
  const completed = await retrying(entry, () => api.post(`${path}/complete`, { checksum: whole }));
  forgetUpload(file);
  entry.checksum = completed.checksum;
  entry.size = completed.filesize;
  entry.sent = entry.size;
  entry.state = "verifying";
  entry.file = null;
  uploads.onChange(true);
  uploads.onCompleted();
}
