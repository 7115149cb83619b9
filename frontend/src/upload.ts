import { accessToken } from "./api";

export interface Uploaded {
  id: string;
  filename: string | null;
  bytes: number;
  sha256: string;
  format: string | null;
}

/** Sends `file` as multipart/form-data, reporting progress (0..1) from the upload events. */
export function uploadFile(
  url: string,
  file: File,
  format: string,
  onProgress: (fraction: number) => void,
): Promise<Uploaded> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    const token = accessToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(xhr.response as Uploaded);
      } else {
        const body = xhr.response as { detail?: string } | null;
        reject(new Error(body?.detail ?? `HTTP ${xhr.status}`));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("network error")));
    const form = new FormData();
    form.append("format", format);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
