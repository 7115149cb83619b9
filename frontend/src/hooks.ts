import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "./api";
import { isTerminal } from "./types";
import type { Job } from "./types";

/** GET `path` on mount and whenever `path` changes; `reload` fetches again. */
export function useApi<T>(path: string | null) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(Boolean(path));
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setLoading(true);
    api<T>(path)
      .then((value) => {
        if (!live) return;
        setData(value);
        setError(null);
      })
      .catch((exc) => live && setError(exc))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Polls a job resource until it ends; `onDone` runs once with the final job. */
export function useJobPoll<T extends { status: string } = Job>(
  path: string | null,
  intervalMs = 700,
  onDone?: (job: T) => void,
) {
  const [job, setJob] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const done = useRef(onDone);
  done.current = onDone;
  useEffect(() => {
    if (!path) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const next = await api<T>(path);
        if (!live) return;
        setJob(next);
        if (isTerminal(next.status)) {
          done.current?.(next);
          return;
        }
      } catch (exc) {
        if (!live) return;
        setError(exc);
        if (exc instanceof ApiError && exc.status < 500 && exc.status !== 429) return;
      }
      timer = setTimeout(poll, intervalMs);
    };
    void poll();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [path, intervalMs]);
  return { job, error };
}
