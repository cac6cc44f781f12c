// Terminal progress bar for `lumengate models pull`: pass `onProgress` to pullModel, call `stop()`
// when it settles.
import cliProgress from 'cli-progress';
import type { PullProgress } from './model-files.js';

export interface ProgressPrinter {
  onProgress(p: PullProgress): void;
  stop(): void;
}

export function createPullProgressPrinter(label: string, stream: NodeJS.WritableStream = process.stderr): ProgressPrinter {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% {done}/{size} MB`,
      hideCursor: true,
      // Redraw even when not a TTY so piped output (CI logs) still shows progress lines.
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return {
    onProgress({ totalSize, downloadedSize }) {
      // Before the size is known (or for an error page) a bar would read 100 % of nothing.
      if (!(totalSize > 0)) return;
      if (!started) {
        bar.start(totalSize, downloadedSize, { done: mb(downloadedSize), size: mb(totalSize) });
        started = true;
      } else {
        bar.setTotal(totalSize);
        bar.update(downloadedSize, { done: mb(downloadedSize), size: mb(totalSize) });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
