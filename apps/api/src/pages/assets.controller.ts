import { Controller, Get, Header } from '@nestjs/common';
import { PAGE_SCRIPT } from '@triage/report';
import { Public } from '../auth/scope.decorator';

/**
 * The pages' one script (copy buttons, live relative times). Public: it holds no data, and a signed
 * report link opens the page to someone without a token, whose browser must still load it.
 */
@Public()
@Controller('assets')
export class AssetsController {
  @Get('pages.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=3600')
  script(): string {
    return PAGE_SCRIPT;
  }
}
