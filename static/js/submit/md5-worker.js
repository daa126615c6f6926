// Computes a file's MD5 off the main thread, in chunks, so that the page stays
// responsive and memory stays bounded for files of any size.
"use strict";

importScripts("../../vendor/spark-md5.min.js");

const CHUNK_BYTES = 8 * 1024 * 1024;

self.onmessage = async (event) => {
  const { job, file } = event.data;
  try {
    const md5 = new SparkMD5.ArrayBuffer();
    for (let offset = 0; offset < file.size; offset += CHUNK_BYTES) {
      md5.append(await file.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
      self.postMessage({ job, type: "progress", done: Math.min(offset + CHUNK_BYTES, file.size) });
    }
    self.postMessage({ job, type: "done", md5: md5.end() });
  } catch (error) {
    self.postMessage({ job, type: "error", message: String(error && error.message ? error.message : error) });
  }
};
