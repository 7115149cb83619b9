import { QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef } from "react";
import { api, ApiError } from "./api";
import { isTerminal } from "./types";
import type { Job } from "./types";

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      refetchOnWindowFocus: false,
      // a refusal (4xx) is an answer, not a hiccup: only 5xx and lost connections are retried
      retry: (count, error) => count < 2 && !(error instanceof ApiError && error.status < 500 && error.status !== 429),
    },
  },
});

/** GET `path` through the shared cache (none while `path` is null); `reload` fetches again. */
export function useApi<T>(path: string | null) {
  const result = useQuery<T>({
    queryKey: [path],
    queryFn: ({ signal }) => api<T>(path as string, { signal }),
    enabled: path !== null,
  });
  const { refetch } = result;
  const reload = useCallback(() => void refetch(), [refetch]);
  return { data: result.data ?? null, error: result.error, loading: result.isLoading, reload };
}

/** Drops cached answers under these path prefixes (after a change), so open views refetch. */
export function useInvalidate() {
  const client = useQueryClient();
  return useCallback(
    (...prefixes: string[]) =>
      client.invalidateQueries({
        predicate: (q) => typeof q.queryKey[0] === "string" && prefixes.some((p) => (q.queryKey[0] as string).startsWith(p)),
      }),
    [client],
  );
}

/** Polls a job resource until it ends; `onDone` runs once with the final job. */
export function useJobPoll<T extends { status: string } = Job>(
  path: string | null,
  intervalMs = 700,
  onDone?: (job: T) => void,
) {
  const done = useRef(onDone);
  done.current = onDone;
  const result = useQuery<T>({
    queryKey: [path, "poll"],
    queryFn: ({ signal }) => api<T>(path as string, { signal }),
    enabled: path !== null,
    staleTime: 0,
    refetchInterval: (query) => {
      const job = query.state.data;
      if (job && isTerminal(job.status)) return false;
      const error = query.state.error;
      if (error instanceof ApiError && error.status < 500 && error.status !== 429) return false;
      return intervalMs;
    },
  });
  const job = result.data ?? null;
  const finished = job !== null && isTerminal(job.status);
  useEffect(() => {
    if (finished && job) done.current?.(job);
    // once per path: when the job first reads as ended
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [finished, path]);
  return { job, error: result.error };
}
