import { LabIcon } from '@jupyterlab/ui-components';

/** Three sliders: the sidebar's tab icon (themed through jp-icon3). */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="5" width="18" height="2" rx="1"/>
    <rect x="3" y="11" width="18" height="2" rx="1"/>
    <rect x="3" y="17" width="18" height="2" rx="1"/>
    <circle cx="8" cy="6" r="2.5"/>
    <circle cx="16" cy="12" r="2.5"/>
    <circle cx="11" cy="18" r="2.5"/>
  </g>
</svg>`;

export const hpoIcon = new LabIcon({ name: 'jupyter-hpo:tuning', svgstr });
