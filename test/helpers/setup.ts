import '../../local/quiet-warnings.ts';
