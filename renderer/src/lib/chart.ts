import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  CategoryScale,
  BarController,
  BarElement,
  Filler,
  Legend,
  Tooltip,
);
Chart.defaults.font.family =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.color = '#3b4351';
Chart.defaults.borderColor = '#e3e7ee';

export { Chart };

/** One line of a line chart; `band` draws a shaded area between lower and upper (e.g. mean ± std). */
export interface LineSeries {
  label: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  /** A dash pattern (overrides `dashed`): tells apart series that share a colour. */
  dash?: number[];
  band?: { lower: number[]; upper: number[] };
}
