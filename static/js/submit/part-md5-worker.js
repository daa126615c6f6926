// Hashes a file part by part, off the main thread, for uploads in parts: each
// part's MD5 (it signs the part's upload URL, so the storage refuses corrupted
// bytes) and, in the same single pass, the whole file's MD5.
"use strict";

importScripts("../../vendor/spark-md5.min.js");

const CHUNK_BYTES = 8 * 1024 * 1024;

self.onmessage = async (event) => {
  const { file, partSize } = event.data;
  try {
    const whole = new SparkMD5.ArrayBuffer();
    const count = Math.max(1, Math.ceil(file.size / partSize));
    for (let number = 1; number <= count; number++) {
      const part = new SparkMD5.ArrayBuffer();
      const end = Math.min(number * partSize, file.size);
      for (let offset = (number - 1) * partSize; offset < end; offset += CHUNK_BYTES) {
        const buffer = await file.slice(offset, Math.min(offset + CHUNK_BYTES, end)).arrayBuffer();
        part.append(buffer);
        whole.append(buffer);
      }
      self.postMessage({ type: "part", number, md5: part.end() });
    }
    self.postMessage({ type: "done", md5: whole.end() });
  } catch (error) {
    self.postMessage({ type: "error", message: String(error && error.message ? error.message : error) });
  }
};
